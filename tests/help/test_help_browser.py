"""In a real browser: alice's job fails; on its page she presses "Get help", sees what
the page would send, unticks the script and sends; carol (staff) answers, and the
answer appears on alice's open page without a reload."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

# The browser fixtures, as tests/browser has them (page needs browser).
from tests.browser.conftest import (  # noqa: F401
    ARTIFACTS,
    browser,
    page,
    screenshot,
    sign_in,
)
from tests.conftest import Portal
from tests.help.conftest import csrf_of
from tests.help.test_portal_help import ask, failed_job
from tests.help.test_screenshots import png
from tests.helpers import signed_in


def test_alice_asks_from_her_job_page_and_sees_the_reply_live(
    help_portal: Portal,
    page: Page,  # noqa: F811
) -> None:
    job, errors = failed_job("browser")
    try:
        sign_in(page, help_portal.url, "alice")
        page.goto(f"{help_portal.url}/jobs/{job}")
        page.locator("#get-help").click()
        expect(page.get_by_role("heading", name="Get help")).to_be_visible()
        expect(page.locator("#help-context")).to_contain_text(f"Job {job}")
        expect(page.locator("#help-context")).to_contain_text("API_TOKEN=[hidden]")
        page.get_by_label("What were you trying to do? What happened?").fill(
            "My job stopped with exit code 3. What does **it broke here** mean?"
        )
        page.locator('input[data-section="job.script"]').uncheck()
        screenshot(page, "help-form")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#help-thread")).to_contain_text("What does it broke here mean?")
        ticket = page.url.rsplit("/", 1)[-1]
        expect(page.locator('details[data-section="job.script"]')).to_have_count(0)
        # A screenshot of what she saw, added from the question's page.
        page.get_by_label("Add a screenshot of what you see (PNG or JPEG)").set_input_files(
            {"name": "what-i-saw.png", "mimeType": "image/png", "buffer": png(40, 20)}
        )
        page.get_by_role("button", name="Add screenshot").click()
        picture = page.locator("#help-screenshots img")
        expect(picture).to_have_count(1)
        expect(picture).to_have_attribute("alt", "Screenshot added by alice")
        assert picture.evaluate("img => img.naturalWidth") == 40

        with signed_in(help_portal.url, "carol") as carol:
            answer = carol.post(
                f"{help_portal.url}/help/{ticket}/reply",
                data={
                    "csrf_token": csrf_of(carol, help_portal),
                    "text": "Your script exits with 3 on purpose: see the last line.",
                },
            )
            assert answer.status_code == 303
        # No reload: the thread redraws itself over the page's WebSocket.
        expect(page.locator("#help-thread")).to_contain_text(
            "exits with 3 on purpose", timeout=10_000
        )
        expect(page.locator("#help-state")).to_have_text("Waiting for you")
        screenshot(page, "help-ticket")
    finally:
        Path(errors).unlink(missing_ok=True)


def test_carol_sees_what_alice_sees_and_stops(
    help_portal: Portal,
    page: Page,  # noqa: F811
) -> None:
    """carol (staff) in Chromium: the consent button, alice's own files under the
    read-only banner, and Stop viewing back to the question; alice's thread lists
    what carol opened."""
    with signed_in(help_portal.url, "alice") as alice:
        ticket = ask(alice, help_portal, "/files", ["page"], consent="on", text="Lost a file")
        sign_in(page, help_portal.url, "carol")
        page.goto(f"{help_portal.url}/help/{ticket}")
        page.get_by_role("button", name="See what alice sees").click()
        banner = page.locator("#view-as-banner")
        expect(banner).to_contain_text("Read-only view")
        expect(banner).to_contain_text("alice's portal")
        page.get_by_role("link", name="Files", exact=True).first.click()
        expect(page.locator("nav.places")).to_contain_text("Project chem")
        expect(page.locator("nav.places")).not_to_contain_text("Project physics")
        screenshot(page, "help-view-as")
        # The README's: the banner and the top of her folder, as the screen shows them.
        page.screenshot(path=str(ARTIFACTS / "help-view-as-top.png"))
        thread = alice.get(f"{help_portal.url}/help/{ticket}").text
        assert "looked at <code>/files</code>" in thread
        page.get_by_role("button", name="Stop viewing").click()
        expect(page).to_have_url(f"{help_portal.url}/help/{ticket}")
        expect(page.locator("#view-as-banner")).to_have_count(0)
