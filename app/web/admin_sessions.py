"""Admins see who is signed in and can end sessions.

Admin pages need membership in one of ``admin_groups`` and a sign-in within the
last ``admin_recent_login_minutes``: a session left open on a lab computer is not
enough to act as an admin. (Casbin replaces the group check with the policy gate.)
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.auth.identity import is_admin
from app.models import utcnow
from app.security.sessions import Identity, SessionStore, session_of
from app.web.templating import message_page, render

PATH = "/admin/sessions"


async def _admin_or_refusal(request: Request) -> Identity | Response:
    state = session_of(request.scope)
    identity = state.identity
    assert identity is not None  # the sign-in guard runs first
    settings = request.app.state.settings
    auditor = request.app.state.auditor
    if not is_admin(identity.unix_name, settings):
        await auditor.record(actor=identity.unix_name, action="admin.sessions", outcome="denied")
        return message_page(
            request,
            "This page is for portal administrators",
            "Your account is not a portal administrator, so this page is not available.",
            status_code=403,
            action_url="/",
            action_label="Go to the dashboard",
            tone="error",
        )
    recent = timedelta(minutes=settings.admin_recent_login_minutes)
    if state.created_at is None or utcnow() - state.created_at > recent:
        return message_page(
            request,
            "Please sign in again",
            "Administrator pages need a recent sign-in. Confirm your password with the "
            "campus sign-in service to continue.",
            status_code=403,
            action_url="/login?" + urlencode({"next": PATH, "fresh": "1"}),
            action_label="Sign in again",
        )
    return identity


async def sessions_page(request: Request) -> Response:
    admin = await _admin_or_refusal(request)
    if isinstance(admin, Response):
        return admin
    store: SessionStore = request.app.state.sessions
    current = session_of(request.scope).id_hash
    return render(
        request,
        "admin_sessions.html",
        {"active": "admin", "rows": await store.active(), "current": current},
    )


async def revoke(request: Request) -> Response:
    admin = await _admin_or_refusal(request)
    if isinstance(admin, Response):
        return admin
    store: SessionStore = request.app.state.sessions
    form = await request.form()
    user = str(form.get("user", ""))
    session_id = str(form.get("session", ""))
    if user:
        count = await store.revoke_user(user)
        target = user
    else:
        await store.revoke(session_id)
        count, target = 1, f"session {session_id[:12]}"
    await request.app.state.auditor.record(
        actor=admin.unix_name, action="sessions.revoke", object=target, outcome="ok", count=count
    )
    return RedirectResponse(PATH, status_code=303)


routes = [
    Route(PATH, sessions_page, methods=["GET"]),
    Route(PATH + "/revoke", revoke, methods=["POST"]),
]
