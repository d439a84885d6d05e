"""The dashboard: who you are, your projects, one card per tool, and the cluster, live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.auth.profile import viewer_profile
from app.security.sessions import session_of
from app.tools import Tool
from app.web.templating import render


@dataclass(frozen=True)
class ShownCard:
    template: str
    context: dict[str, Any]
    wide: bool


async def dashboard(request: Request) -> HTMLResponse:
    identity = session_of(request.scope).identity
    assert identity is not None  # the sign-in guard runs first
    view = await request.app.state.verbs.call(identity, "cluster.snapshot")
    snapshot = view.snapshot
    tools: list[Tool] = request.app.state.tools
    cards = [
        ShownCard(
            tool.card.template,
            await tool.card.context(request) if tool.card.context is not None else {},
            tool.card.wide,
        )
        for tool in tools
        if tool.card is not None
    ]
    return render(
        request,
        "dashboard.html",
        {
            "active": "dashboard",
            "projects": (await viewer_profile(request)).projects,
            "snapshot": snapshot,
            "jobs": snapshot.active_jobs_of(identity.unix_name) if snapshot else [],
            "cards": cards,
        },
    )
