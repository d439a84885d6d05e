"""alice looks back at her finished jobs in a browser and reads the advice."""

from __future__ import annotations

import re
import subprocess
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Portal
from tests.helpers import submit_as, wait_until


def wait_in_accounting(ids: list[str]) -> None:
    def finished() -> bool:
        out = subprocess.run(
            ["sacct", "--noheader", "--parsable2", "-X", "--format=State", "-j", ",".join(ids)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return len(out) == len(ids) and all(s in ("COMPLETED", "FAILED") for s in out)

    wait_until(finished, 240, 1)


def test_alice_reads_her_history(page: Page, portal: Portal) -> None:
    tag = f"hist{uuid.uuid4().hex[:6]}"
    fine = submit_as("alice", f"--job-name={tag}-analysis", "--time=60", "--wrap", "sleep 3")
    broken = submit_as("alice", f"--job-name={tag}-broken", "--time=5", "--wrap", "exit 3")
    wait_in_accounting([fine, broken])
    sign_in(page, portal.url, "alice")
    page.goto(portal.url + "/jobs")
    page.get_by_role("button", name="History").click()  # a link styled as a button
    expect(page.get_by_role("heading", name="Your job history")).to_be_visible()
    page.get_by_label("Name contains").fill(tag)
    page.get_by_role("button", name="Show jobs").click()
    # The filter is in the address, so it can be bookmarked (and the new page is here).
    expect(page).to_have_url(re.compile(f"name={tag}"))
    rows = page.locator("#job-history tbody tr[data-job]")
    try:
        expect(rows).to_have_count(2)
    except AssertionError as missing:  # once in CI: say what the page said instead
        raise AssertionError(f"{missing}\nthe page said: {page.inner_text('main')}") from None
    expect(page.locator(f"tr[data-job='{broken}']")).to_contain_text("exit code 3")
    expect(page.locator(f"tr[data-advice-for='{fine}']")).to_contain_text(
        "You asked for 1 hour and used 3 seconds"
    )
    screenshot(page, "jobs-history")
    page.get_by_label("Status").select_option(label="failed")
    page.get_by_role("button", name="Show jobs").click()
    expect(page).to_have_url(re.compile("state=failed"))
    expect(rows).to_have_count(1)
    page.goto(portal.url + "/jobs/history?since=yesterday-ish")
    expect(page.get_by_text("is not a date")).to_be_visible()
    screenshot(page, "jobs-history-bad-date")
    # A finished job's own page says the same.
    page.goto(portal.url + f"/jobs/history?name={tag}")
    page.get_by_role("link", name=fine, exact=True).click()
    usage = page.locator("#job-usage")
    expect(usage).to_contain_text("What it used")
    expect(usage).to_contain_text("3 seconds of 1 hour asked for")
    expect(usage).to_contain_text("Tip: You asked for 1 hour")
    screenshot(page, "job-usage")
