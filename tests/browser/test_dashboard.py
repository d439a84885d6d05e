"""alice's first visit, in Chromium: sign in, see the cluster live, sign out."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Portal, scontrol


def test_alice_signs_in_sees_a_drain_live_and_signs_out(
    page: Page, portal: Portal, node2_resumed: None
) -> None:
    page.goto(portal.url + "/")
    expect(page.get_by_label("Username")).to_be_visible()
    screenshot(page, "campus-sign-in")
    sign_in(page, portal.url, "alice")
    expect(page.get_by_role("heading", name="Hello, Alice Anderson")).to_be_visible()
    expect(page.locator("#projects-card .chip")).to_have_text(["chem"])
    expect(page.locator("tr[data-node=node1]")).to_be_visible()
    expect(page.locator("tr[data-node=node2]")).to_be_visible()
    expect(page.locator("#live-status")).to_have_text("Live")
    screenshot(page, "dashboard-alice")

    page.evaluate("window.__notReloaded = true")
    started = time.monotonic()
    scontrol("update", "nodename=node2", "state=drain", "reason=maintenance")
    node2 = page.locator("tr[data-node=node2]")
    expect(node2).to_have_attribute("data-state", "drained", timeout=10_000)
    print(f"drain visible after {time.monotonic() - started:.2f}s")
    expect(node2).to_contain_text("in maintenance")
    expect(node2).to_contain_text("maintenance")
    assert page.evaluate("window.__notReloaded") is True, "the page must not reload"
    screenshot(page, "dashboard-drained")

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign out").click()  # the provider asks to confirm
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    screenshot(page, "signed-out")

    page.go_back()
    page.wait_for_load_state()
    assert "Alice Anderson" not in page.content()
    page.go_back()
    page.wait_for_load_state()
    assert "Alice Anderson" not in page.content()


def test_mallory_sees_the_no_account_page(page: Page, portal: Portal) -> None:
    sign_in(page, portal.url, "mallory")
    expect(page.get_by_role("heading", name="You have no account on this cluster")).to_be_visible()
    screenshot(page, "no-account")
    # Her campus session still exists, so coming back signs her in at the provider
    # again: she must land on the same refusal, never on a page of the portal.
    page.goto(portal.url + "/")
    expect(page.get_by_role("heading", name="You have no account on this cluster")).to_be_visible()
    cookies = {c["name"] for c in page.context.cookies(portal.url)}
    assert "onestop_session" not in cookies


def test_mallory_can_switch_to_another_campus_account(page: Page, portal: Portal) -> None:
    sign_in(page, portal.url, "mallory")
    page.get_by_role("button", name="Use a different campus account").click()
    page.get_by_role("button", name="Sign out").click()  # the provider asks to confirm
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    sign_in(page, portal.url, "bob")
    expect(page.get_by_role("heading", name="Hello, Bob Brown")).to_be_visible()


def test_dark_mode_dashboard(browser: Browser, portal: Portal) -> None:
    context = browser.new_context(color_scheme="dark", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, portal.url, "carol")
        expect(page.get_by_role("heading", name="Hello, Carol Chen")).to_be_visible()
        expect(page.locator("#projects-card .chip")).to_have_text(["physics"])
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background != "rgb(255, 255, 255)", "dark mode should not be white"
        screenshot(page, "dashboard-dark")
    finally:
        context.close()


def test_erin_sees_who_is_signed_in(page: Page, portal: Portal) -> None:
    sign_in(page, portal.url, "erin")
    page.get_by_role("link", name="Signed-in people").click()
    expect(page.get_by_role("heading", name="Signed-in people")).to_be_visible()
    expect(page.locator("tr[data-current=true]")).to_contain_text("this is you")
    expect(page.locator("tr[data-current=true]")).to_contain_text("Erin Evans")
    screenshot(page, "admin-sessions")


def test_a_job_appears_live_for_its_owner_only(browser: Browser, portal: Portal) -> None:
    import subprocess

    pages = {}
    contexts = []
    for name in ("alice", "bob"):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(context)
        pages[name] = context.new_page()
        sign_in(pages[name], portal.url, name)
        expect(pages[name].locator("#live-status")).to_have_text("Live")
    job_id = ""
    try:
        job_id = subprocess.run(
            ["su", "-", "alice", "-c", "sbatch --parsable -p debug -J live-demo --wrap 'sleep 60'"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        row = pages["alice"].locator(f"#my-jobs tr[data-job='{job_id}']")
        expect(row).to_contain_text("live-demo", timeout=10_000)
        screenshot(pages["alice"], "dashboard-with-job")
        assert "live-demo" not in pages["bob"].content()
        subprocess.run(["scancel", job_id], check=True)
        expect(row).to_have_count(0, timeout=10_000)
    finally:
        if job_id:
            subprocess.run(["scancel", job_id], check=False)
        for context in contexts:
            context.close()
