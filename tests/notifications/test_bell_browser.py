"""In Chromium: the bell in the navigation bar counts up by itself when a job ends,
and the count is still there in a new browser (a closed and reopened tab)."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import browser, page, screenshot, sign_in
from tests.conftest import Portal
from tests.helpers import submit_as

__all__ = ["browser", "page"]


def count_of(page: Page) -> int:
    return int(page.locator("#notify-bell").get_attribute("data-unseen") or 0)


def test_the_bell_counts_up_live_when_a_job_ends(
    page: Page, browser: Browser, notify_portal: Portal
) -> None:
    portal = notify_portal
    sign_in(page, portal.url, "carol")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#notify-bell")).to_have_attribute("data-unseen", str(count_of(page)))
    before = count_of(page)
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    job = submit_as("carol", "--job-name=bell", "--wrap", "sleep 2")
    count = page.locator("#notify-bell .bell-count")
    expect(count).to_have_text(str(before + 1), timeout=30_000)
    assert not loads, "the page reloaded; the bell should change by itself"
    screenshot(page, "notification-bell")

    # A new browser: signed in afresh, the bell still shows what carol has not seen.
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        reopened = context.new_page()
        sign_in(reopened, portal.url, "carol")
        expect(reopened.locator("#notify-bell .bell-count")).to_have_text(str(before + 1))
        reopened.locator("#notify-bell").click()
        item = reopened.locator("#notification-list li", has_text=f"Job {job} ")
        expect(item).to_have_attribute("data-seen", "false")
        expect(item).to_contain_text(f"Your job {job} 'bell' finished: completed.")
        screenshot(reopened, "notifications-page")
        item.get_by_role("button").click()
        expect(reopened).to_have_url(f"{portal.url}/jobs/{job}")
        expect(reopened.locator("#notify-bell")).to_have_attribute("data-unseen", str(before))
    finally:
        context.close()
    # The first tab hears that it was seen, too.
    expect(page.locator("#notify-bell")).to_have_attribute(
        "data-unseen", str(before), timeout=10_000
    )
