"""Who is signed in (staff and admins may look) and ending sessions (admins, with a
recent sign-in). Both go through the verb gate like everything else."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.security.sessions import Identity, session_of
from app.verbs import ErrorKind, VerbError, VerbGate
from app.web.templating import message_page, render

PATH = "/admin/sessions"


def _identity(request: Request) -> Identity:
    identity = session_of(request.scope).identity
    assert identity is not None  # the sign-in guard runs first
    return identity


def refusal_page(request: Request, error: VerbError) -> Response:
    """Someone who is not an admin is told what this page is; anything else (a stale
    sign-in, with its way to renew it; an outage) is the portal's page for its kind."""
    if error.kind is ErrorKind.DENIED and error.detail != "reauth":
        return message_page(
            request,
            "This page is for portal administrators",
            "Your account may not see or change this, so this page is not available.",
            status_code=403,
            action_url="/",
            action_label="Go to the dashboard",
            tone="error",
        )
    raise error


async def sessions_page(request: Request) -> Response:
    identity = _identity(request)
    verbs: VerbGate = request.app.state.verbs
    try:
        listing = await verbs.call(identity, "sessions.list")
    except VerbError as error:
        return refusal_page(request, error)
    return render(
        request,
        "admin_sessions.html",
        {
            "active": "admin",
            "rows": listing.sessions,
            "current": session_of(request.scope).id_hash,
            "can_end": await verbs.allowed(identity, "sessions.revoke"),
        },
    )


async def revoke(request: Request) -> Response:
    form = await request.form()
    verbs: VerbGate = request.app.state.verbs
    try:
        await verbs.call(
            _identity(request),
            "sessions.revoke",
            user=str(form.get("user", "")),
            session=str(form.get("session", "")),
        )
    except VerbError as error:
        return refusal_page(request, error)
    return RedirectResponse(PATH, status_code=303)


routes = [
    Route(PATH, sessions_page, methods=["GET"]),
    Route(PATH + "/revoke", revoke, methods=["POST"]),
]
