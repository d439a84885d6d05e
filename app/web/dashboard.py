"""The dashboard: who you are, your projects, your jobs and the cluster, live."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.auth.profile import viewer_profile
from app.security.sessions import session_of
from app.web.templating import render


async def dashboard(request: Request) -> HTMLResponse:
    identity = session_of(request.scope).identity
    assert identity is not None  # the sign-in guard runs first
    view = await request.app.state.verbs.call(identity, "cluster.snapshot")
    snapshot = view.snapshot
    return render(
        request,
        "dashboard.html",
        {
            "active": "dashboard",
            "projects": (await viewer_profile(request)).projects,
            "snapshot": snapshot,
            "jobs": snapshot.active_jobs_of(identity.unix_name) if snapshot else [],
        },
    )
