"""The context a question carries: what every tool says about the page she asked
from (``Tool.page_context``), and what is true anywhere (the page's address, her
browser, the portal's version). The help tool never imports another tool: it asks
each installed tool, which reads its own page through verbs as her."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

from starlette.requests import Request

from app.logs import get_logger
from app.tools import ContextSection
from app.verbs import VerbError
from wrappers.help.text import redact

__all__ = ["page_sections", "safe_page"]

log = get_logger("onestop.help")


def safe_page(page: str) -> str:
    """The page she asked from as a path on this portal ("" when it is not one)."""
    parts = urlsplit(page)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or page.startswith("//"):
        return ""
    return page[:2048]


def _portal_version() -> str:
    try:
        return version("onestop-portal")
    except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
        return "unknown"


async def page_sections(request: Request, page: str) -> list[ContextSection]:
    """Every tool's sections for ``page``, then the page itself; secrets already out."""
    found: list[ContextSection] = []
    for tool in request.app.state.tools:
        if tool.page_context is None or not page:
            continue
        try:
            found += list(await tool.page_context(request, page))
        except VerbError as error:  # not hers, gone, or her agent not answering
            log.info("help_context_skipped", tool=tool.name, page=page, kind=error.kind.value)
    browser = request.headers.get("user-agent", "unknown")[:500]
    found.append(
        ContextSection(
            "page",
            "This page",
            f"Address: {page or '(not given)'}\nBrowser: {browser}\n"
            f"Portal version: {_portal_version()}",
        )
    )
    return [ContextSection(s.key, s.title, redact(s.text)) for s in found]
