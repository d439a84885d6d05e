"""No page of the portal scrolls sideways, on a desktop screen or a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import ARTIFACTS, sign_in
from tests.conftest import Portal

PAGES = (
    "/",
    "/jobs",
    "/jobs/new",
    "/jobs/history",
    "/jobs/templates",
    "/notifications",
    "/files",
    "/files/shared",
    "/files/trash",
)


@pytest.mark.parametrize("width", [1200, 390])
def test_no_page_is_wider_than_the_screen(browser: Browser, portal: Portal, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, portal.url, "alice")
        too_wide = {}
        for path in PAGES:
            page.goto(portal.url + path)
            page.wait_for_load_state("networkidle")
            scroll, inner = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            if scroll > inner:
                too_wide[path] = scroll
            if width < 600 and path in ("/", "/files"):
                name = f"phone{path.replace('/', '-').rstrip('-') or '-dashboard'}"
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"))  # the first screenful
        assert too_wide == {}, f"pages that scroll sideways at {width} px: {too_wide}"
    finally:
        context.close()
