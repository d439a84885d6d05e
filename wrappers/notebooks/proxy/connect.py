"""Connecting: how her browser gets into a session's own origin.

Like JupyterHub's single-user OAuth, with the portal as the hub. The notebook origin
never sees the portal's cookie, so:

1. Connect on the portal (``/notebooks/sessions/<id>/connect``) sends her browser to
   the session's origin (``/_onestop/connect``), which sets a state cookie there and
   sends the browser back to the portal with that state's hash.
2. The portal, where she is signed in, checks that the session is hers and that she
   may connect, and mints a code bound to her portal session, to the session and to
   the state's hash: it lasts a minute and works once (``passes.py``). It sends the
   browser on to ``/_onestop/enter?code=...`` on the session's origin.
3. The session's origin takes the code (spent, whatever happens next), checks it
   again (its age, its session, the browser's state cookie, her portal session, her
   ownership, policy) and gives the browser its own cookie, which lasts as long as
   her portal session and works only while that does.

A code that leaks (a log, a shoulder) is worth nothing: it works once, for a minute,
in the browser holding the state cookie. A browser already holding a good cookie
skips all this at step 1.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request, cookie_parser
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from app.models import utcnow
from app.security.sessions import Identity, SessionState, session_of
from app.settings import Settings
from app.verbs import ErrorKind, VerbError
from app.web.templating import message_page
from wrappers.notebooks.pages import no_such_session
from wrappers.notebooks.proxy.access import (
    NOT_YOURS,
    Refusal,
    SessionCache,
    Upstream,
    admit,
    header,
    session_page,
)
from wrappers.notebooks.proxy.answers import (
    audit_refusal,
    clear_cookie,
    redirect,
    refuse,
    set_cookie,
)
from wrappers.notebooks.proxy.headers import inside_session
from wrappers.notebooks.proxy.origins import NotebookOrigins, jupyter_prefix
from wrappers.notebooks.proxy.passes import CODE_SECONDS, CodeTaken, Passes, Taken, digest
from wrappers.request import own, verb_gate, viewer

__all__ = ["CONNECT", "ENTER", "Connector", "connect_page", "safe_next"]

CONNECT = "/_onestop/connect"
ENTER = "/_onestop/enter"
STATE_HASH = re.compile(r"^[0-9a-f]{64}$")
# The state cookie lives a little longer than a code, for the round trip through the
# portal (and its sign-in page, if she must sign in first: then she connects again).
STATE_SECONDS = 2 * CODE_SECONDS


def safe_next(asked: str, session_id: str) -> str:
    """``asked`` if it is a path inside the session's Jupyter, else the session's root."""
    prefix = jupyter_prefix(session_id)
    if asked.startswith(prefix) and inside_session(asked, asked, prefix) == asked:
        return asked
    return prefix


def _query(scope: Scope, name: str) -> str:
    values = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1")).get(name)
    return values[0] if values else ""


AGAIN = "Connect again from the session's page on the portal."
ANON = "anonymous"
POLICY_SAYS_NO = (
    "The portal's policy does not let you connect to notebook sessions. Ask your HPC "
    "team if you need them."
)


class Connector:
    """Both ends of connecting: the portal's route and the notebook origin's two."""

    def __init__(
        self, settings: Settings, origins: NotebookOrigins, passes: Passes, sessions: SessionCache
    ) -> None:
        self.portal = settings.origin
        self.origins = origins
        self.passes = passes
        self.sessions = sessions

    # The portal's end: /notebooks/sessions/<id>/connect, behind sign-in like any page.

    async def mint(self, request: Request) -> Response:
        """Send her browser on to the session's origin: for a state cookie first, then
        with a code for that state."""
        session_id: str = request.path_params["session_id"]
        identity = viewer(request)
        try:
            shown = await verb_gate(request).call(identity, "notebooks.show", session_id=session_id)
        except VerbError as error:
            if error.kind is ErrorKind.UNAVAILABLE:
                raise  # not "no such session": the portal's page for it, with Try again
            shown = None
        # An admin may see others' sessions, but connecting runs code as the owner.
        if shown is None or shown.owner != identity.unix_name:
            return no_such_session(request)
        if not shown.connectable:  # its page says how far it is
            return RedirectResponse(session_page(session_id), status_code=303)
        default = jupyter_prefix(session_id) + ("lab" if shown.interface == "lab" else "tree")
        asked = request.query_params.get("next", "")
        target = safe_next(asked, session_id) if asked else default
        state = request.query_params.get("state", "")
        if not STATE_HASH.match(state):
            entry = CONNECT + "?" + urlencode({"next": target})
            return redirect(self.origins.url(session_id, entry))
        row = await self.sessions.get(session_id)
        if row is None or not await self.sessions.may_connect(
            request.scope, identity.unix_name, row
        ):
            refusal = Refusal(403, "Not allowed", POLICY_SAYS_NO, "policy")
            await audit_refusal(request.scope, identity.unix_name, session_id, refusal)
            return message_page(
                request, refusal.heading, refusal.text, status_code=403, tone="error"
            )
        portal_session = session_of(request.scope).id_hash
        assert portal_session is not None, "the sign-in guard ran"
        code = await self.passes.mint_code(
            portal_session=portal_session,
            notebook_id=session_id,
            owner=identity.unix_name,
            state_hash=state,
        )
        client = request.client
        await request.app.state.auditor.record(
            actor=identity.unix_name,
            action="notebooks.connect",
            object=f"/notebooks/{session_id}",
            outcome="ok",
            client_ip=client.host if client else "",
            urgent=False,
        )
        entry = ENTER + "?" + urlencode({"code": code, "next": target})
        return redirect(self.origins.url(session_id, entry))

    # The notebook origin's end: /_onestop/connect and /_onestop/enter.

    async def start(self, scope: Scope, receive: Receive, send: Send, session_id: str) -> None:
        """Already in (a good cookie): on to ``next``. Otherwise a state cookie for this
        browser, and to the portal for a code."""
        target = safe_next(_query(scope, "next"), session_id)
        verdict = await admit(scope, session_id, self.origins, self.passes, self.sessions)
        if isinstance(verdict.outcome, Upstream):
            await redirect(target)(scope, receive, send)
            return
        state = secrets.token_urlsafe(32)
        name = self.origins.state_cookie_name(session_id)
        cookie = set_cookie(name, state, STATE_SECONDS, self.origins.tls)
        back = f"{self.portal}{session_page(session_id)}/connect?" + urlencode(
            {"state": digest(state), "next": target}
        )
        await redirect(back, cookie)(scope, receive, send)

    async def enter(self, scope: Scope, receive: Receive, send: Send, session_id: str) -> None:
        """The code for the origin's own cookie, once; then on to ``next``."""
        target = safe_next(_query(scope, "next"), session_id)
        taken = await self.passes.take_code(_query(scope, "code"))
        cookies = cookie_parser(header(scope, b"cookie") or "")
        state_name = self.origins.state_cookie_name(session_id)
        refusal, actor, portal = await self._judge(
            scope, taken, session_id, cookies.get(state_name, "")
        )
        if refusal is not None:
            await audit_refusal(scope, actor, session_id, refusal)
            await refuse(scope, receive, send, self.portal, refusal)
            return
        code = taken.code
        assert code is not None and portal is not None and portal.expires_at is not None
        value = await self.passes.add_cookie(code, portal.expires_at)
        lasts = int((portal.expires_at - utcnow()).total_seconds())
        tls = self.origins.tls
        response = redirect(
            target,
            set_cookie(self.origins.cookie_name(session_id), value, lasts, tls),
            clear_cookie(state_name, tls),
        )
        await response(scope, receive, send)

    async def _judge(
        self, scope: Scope, taken: CodeTaken, session_id: str, state: str
    ) -> tuple[Refusal | None, str, SessionState | None]:
        """Whether the code is good here: no refusal (and her portal session), or the
        refusal with whom the audit names (the presenter is unknown until it is)."""
        code = taken.code

        def spoiled(heading: str, text: str, reason: str, status: int = 403) -> Refusal:
            return Refusal(status, heading, text, reason, session_page=session_page(session_id))

        if taken.outcome is Taken.UNKNOWN or code is None:
            text = f"This link is not one the portal made for you. {AGAIN}"
            return spoiled("This connection link does not work", text, "unknown code"), ANON, None
        if taken.outcome is Taken.USED:
            text = f"A connection link works once, and this one was used before. {AGAIN}"
            return (
                spoiled("This connection link has been used", text, "code used twice"),
                ANON,
                None,
            )
        if code.expires_at <= utcnow():
            text = f"A connection link lasts a minute. {AGAIN}"
            return spoiled("This connection link is too old", text, "code expired"), ANON, None
        if code.notebook_id != session_id:
            text = f"It was made for another notebook session. {AGAIN}"
            heading = "This connection link is for another session"
            return spoiled(heading, text, "code for another session"), ANON, None
        if not state or not secrets.compare_digest(digest(state), code.state_hash):
            text = (
                "A connection link works only in the browser that asked for it, and "
                f"this is another one. {AGAIN}"
            )
            heading = "This connection link was made for another browser"
            return spoiled(heading, text, "code from another browser"), ANON, None
        portal = await scope["app"].state.sessions.load_hashed(code.session_hash)
        identity: Identity | None = portal.identity
        if identity is None:
            text = f"You have signed out of the portal since, or your sign-in ended. {AGAIN}"
            heading = "You are no longer signed in"
            return spoiled(heading, text, "portal session ended", 401), ANON, None
        person = identity.unix_name
        if person != code.owner:
            heading = "This connection link was made for someone else"
            return spoiled(heading, NOT_YOURS, "code for another person"), person, None
        row = await self.sessions.get(session_id)
        if row is None or row.owner != person:
            return spoiled("Not your notebook", NOT_YOURS, "not the owner"), person, None
        if not await self.sessions.may_connect(scope, person, row):
            return spoiled("Not allowed", POLICY_SAYS_NO, "policy"), person, None
        return None, person, portal


async def connect_page(request: Request) -> Response:
    """The portal's route (``/notebooks/sessions/<id>/connect``)."""
    return await own(request, Connector).mint(request)
