"""Admins see who is signed in and can end sessions.

Admin pages need membership in one of ``admin_groups`` and a password typed at the
provider within the last ``admin_recent_login_minutes`` (the ID token's
``auth_time``): a session left open on a lab computer is not enough to act as an
admin. (Casbin replaces the group check with the policy gate.)
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.auth.profile import viewer_profile
from app.security.sessions import Identity, SessionStore, session_of
from app.web.templating import message_page, render

PATH = "/admin/sessions"


async def _admin_or_refusal(request: Request) -> Identity | Response:
    state = session_of(request.scope)
    identity = state.identity
    assert identity is not None  # the sign-in guard runs first
    settings = request.app.state.settings
    auditor = request.app.state.auditor
    if not (await viewer_profile(request)).admin:
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
    auth_time = state.data.get("auth_time")
    recent = settings.admin_recent_login_minutes * 60
    if not isinstance(auth_time, int) or time.time() - auth_time > recent:
        await auditor.record(
            actor=identity.unix_name, action="admin.sessions", outcome="reauth-needed"
        )
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
    await request.app.state.auditor.record(
        actor=admin.unix_name, action="admin.sessions", outcome="ok"
    )
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
        count, target = await store.revoke_user(user), user
    elif session_id:
        count, target = await store.revoke(session_id), f"session {session_id[:12]}"
    else:
        return message_page(
            request,
            "Nothing to end",
            "Choose a session or a person on the list first.",
            status_code=400,
            action_url=PATH,
            action_label="Back to the list",
            tone="error",
        )
    await request.app.state.auditor.record(
        actor=admin.unix_name, action="sessions.revoke", object=target, outcome="ok", count=count
    )
    return RedirectResponse(PATH, status_code=303)


routes = [
    Route(PATH, sessions_page, methods=["GET"]),
    Route(PATH + "/revoke", revoke, methods=["POST"]),
]
