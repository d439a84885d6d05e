"""alice runs jobs from the browser: submit, follow live, read output, cancel."""

from __future__ import annotations

import subprocess
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Portal
from tests.helpers import submit_as


def submit_from_form(page: Page, portal: Portal, name: str, script: str) -> str:
    page.goto(portal.url + "/jobs/new")
    page.get_by_label("Job name").fill(name)
    page.get_by_label("Time limit (minutes)").fill("5")
    page.get_by_label("Script").fill(script)
    page.get_by_role("button", name="Submit job").click()
    expect(page.get_by_role("heading", name="Job ")).to_be_visible()
    return page.url.rsplit("/", 1)[-1]


def test_alice_submits_follows_and_reads_her_job(page: Page, portal: Portal) -> None:
    sign_in(page, portal.url, "alice")
    page.goto(portal.url + "/jobs/new")
    screenshot(page, "jobs-new")
    job_id = submit_from_form(
        page, portal, "hello", '#!/bin/bash\necho "hello from $(hostname)"\nsleep 4\necho done\n'
    )
    status = page.locator(f"#job-status-{job_id}")
    expect(status).to_have_attribute("data-state", "running", timeout=60_000)
    expect(status).to_have_attribute("data-state", "completed", timeout=60_000)
    expect(page.locator("pre[data-stream=stdout]")).to_contain_text("done", timeout=10_000)
    expect(page.locator("pre[data-stream=stdout]")).to_contain_text("hello from")
    screenshot(page, "job-completed")
    page.get_by_role("link", name="Jobs").click()
    expect(page.locator(f"#job-list tr[data-job='{job_id}']")).to_have_attribute(
        "data-state", "completed"
    )
    screenshot(page, "jobs-list")


def test_a_failing_job_shows_its_exit_code_and_errors(page: Page, portal: Portal) -> None:
    sign_in(page, portal.url, "alice")
    job_id = submit_from_form(
        page, portal, "fails", "#!/bin/bash\necho 'something broke' >&2\nexit 3\n"
    )
    status = page.locator(f"#job-status-{job_id}")
    expect(status).to_have_attribute("data-state", "failed", timeout=30_000)
    expect(status).to_contain_text("exit code 3")
    expect(page.locator("pre[data-stream=stderr]")).to_contain_text(
        "something broke", timeout=10_000
    )


def test_alice_cancels_a_long_job(page: Page, portal: Portal) -> None:
    sign_in(page, portal.url, "alice")
    job_id = submit_from_form(page, portal, "long", "#!/bin/bash\nsleep 300\n")
    try:
        # Asked first: saying no leaves the job alone.
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.get_by_role("button", name="Cancel this job").click()
        page.wait_for_timeout(1000)
        status = page.locator(f"#job-status-{job_id}")
        assert status.get_attribute("data-state") in ("pending", "running")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Cancel this job").click()
        expect(status).to_have_attribute("data-state", "cancelled", timeout=20_000)
    finally:
        subprocess.run(["scancel", job_id], check=False)


def test_bad_fields_are_explained_next_to_them(page: Page, portal: Portal) -> None:
    sign_in(page, portal.url, "alice")
    page.goto(portal.url + "/jobs/new")
    page.get_by_label("Time limit (minutes)").fill("600")
    page.get_by_label("Job name").fill("bad;name")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator(".field-error")).to_contain_text(["may not contain"])
    # What she typed is kept; she fixes the name and learns about the time limit.
    expect(page.get_by_label("Time limit (minutes)")).to_have_value("600")
    page.get_by_label("Job name").fill("good-name")
    page.get_by_role("button", name="Submit job").click()
    expect(page.get_by_text("allows at most 60 minutes")).to_be_visible()
    screenshot(page, "jobs-new-errors")


def test_bob_cannot_open_alices_job(page: Page, portal: Portal) -> None:
    job = submit_as("alice", "--wrap", "sleep 60")
    try:
        sign_in(page, portal.url, "bob")
        page.goto(f"{portal.url}/jobs/{job}")
        expect(page.get_by_role("heading", name="No such job of yours")).to_be_visible()
        assert "sleep 60" not in page.content()
        # Nor can he cancel, hold or read it by sending the forms himself.
        for action in ("cancel", "hold"):
            status = page.evaluate(
                """async ([url]) => {
                    const token = document.querySelector('meta[name="csrf-token"]').content;
                    const answer = await fetch(url, {method: "POST", headers: {"X-CSRF-Token": token}});
                    return answer.status;
                }""",
                [f"{portal.url}/jobs/{job}/{action}"],
            )
            assert status == 403, (action, status)
        output = page.evaluate(
            "async ([url]) => (await fetch(url)).status", [f"{portal.url}/jobs/{job}/output"]
        )
        assert output == 404
        state = subprocess.run(
            ["squeue", "--noheader", "--format=%T", "--jobs", job],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert state in ("PENDING", "RUNNING"), state
    finally:
        subprocess.run(["scancel", job], check=False)


def test_one_task_of_an_array_is_cancelled_then_the_rest(page: Page, portal: Portal) -> None:
    array = submit_as("alice", "--array=1-4", "--job-name=four", "--wrap", "sleep 300")
    try:
        sign_in(page, portal.url, "alice")
        page.goto(portal.url + "/jobs")
        row = page.locator(f'tr[data-array="{array}"]')
        expect(row).to_contain_text("four")
        # Wait until the tasks have their own ids (a pending range has none yet).
        task = row.locator(f'li[data-job="{array}_2"]')
        expect(task).to_be_attached(timeout=20_000)
        row.locator("summary").click()
        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name=f"Cancel task {array}_2").click()
        row = page.locator(f'tr[data-array="{array}"]')
        expect(row.locator(f'li[data-job="{array}_2"]')).to_have_attribute(
            "data-state", "cancelled", timeout=20_000
        )
        for other in (1, 3, 4):
            assert row.locator(f'li[data-job="{array}_{other}"]').get_attribute("data-state") in (
                "pending",
                "running",
            )
        screenshot(page, "jobs-array-task-cancelled")
        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Cancel the whole array").click()
        for other in (1, 3, 4):
            expect(
                page.locator(f'tr[data-array="{array}"] li[data-job="{array}_{other}"]')
            ).to_have_attribute("data-state", "cancelled", timeout=20_000)
    finally:
        subprocess.run(["scancel", array], check=False)


def test_a_gigabyte_of_output_is_shown_by_its_end(page: Page, portal: Portal) -> None:
    """Only the end of the file travels: the page stays light whatever the job wrote."""
    script = "head -c 1073741824 /dev/zero | tr '\\0' x; echo; echo THE-END"
    job = submit_as("alice", "--output=/home/alice/huge-%j.out", "--wrap", script)
    huge = Path(f"/home/alice/huge-{job}.out")
    try:
        sign_in(page, portal.url, "alice")
        page.goto(f"{portal.url}/jobs/{job}")
        expect(page.locator(f"#job-status-{job}")).to_have_attribute(
            "data-state", "completed", timeout=60_000
        )
        assert huge.stat().st_size > 1024**3
        page.reload()
        expect(page.locator('pre[data-stream="stdout"]')).to_contain_text("THE-END")
        answer = page.evaluate(
            """async ([url]) => {
                const response = await fetch(url);
                return [response.status, (await response.text()).length];
            }""",
            [f"{portal.url}/jobs/{job}/output"],
        )
        status, length = answer
        assert status == 286, "a finished job's output is final: the page stops asking"
        assert length < 200 * 1024, length
    finally:
        subprocess.run(["scancel", job], check=False)
        huge.unlink(missing_ok=True)
