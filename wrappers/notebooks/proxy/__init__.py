"""The reverse proxy in front of notebook sessions, each on an origin of its own.

Each session is served at a host of its own (``origins``: ``<id>.nb.localhost`` in the
demo), never on the portal's origin, so script in a notebook's output can reach no
cookie, token or page of the portal. Requests to those hosts never meet the portal's
middlewares (``Tool.own_origins``, app/origins.py): ``NotebookProxy`` takes them whole.

- ``/_onestop/connect`` and ``/_onestop/enter``: connecting, with a one-time code from
  the portal exchanged for the origin's own cookie (``connect``);
- ``/notebooks/<id>/...``: her Jupyter server (its base URL), every request and
  WebSocket checked again (``access.admit``: her pass, her live portal session, her
  ownership, policy, the session's own Origin, the session reachable), then forwarded
  to the stored host and port and nowhere else, with the session's secret added in a
  header and every cookie of the portal and of the origin taken out (``headers``).
  The secret never goes to the browser: Jupyter's own token is empty
  (scripts/onestop_jupyter.py);
- ``/``: the session's root. Anything else is not a notebook address.

A page request without a good pass (none yet, or her portal session ended) starts
connecting instead of being refused, so a bookmark or a reload after a new sign-in
just works. Jupyter's answers keep Jupyter's own security headers (its pages need
inline styles, workers and frames that the portal's policy forbids); the origin's own
pages (refusals) get the portal's, with a policy of their own (``answers``).

On the portal's origin the old addresses ``/notebooks/<id>/...`` serve no Jupyter:
a page request there is sent to Connect (``portal_routes``).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.access_log import ACTOR
from app.logs import get_logger
from app.origins import host_name
from app.security.sessions import cookie_name
from app.settings import Settings
from wrappers.notebooks.proxy.access import (
    NOT_HERE,
    Lookup,
    Refusal,
    SessionCache,
    Upstream,
    Verdict,
    admit,
    session_page,
)
from wrappers.notebooks.proxy.answers import audit_refusal, redirect, refuse
from wrappers.notebooks.proxy.connect import CONNECT, ENTER, Connector, connect_page
from wrappers.notebooks.proxy.decide import DECIDE, decide, from_nginx
from wrappers.notebooks.proxy.forward import UPSTREAM_ANSWER, UpstreamClient
from wrappers.notebooks.proxy.headers import SECRET_HEADER
from wrappers.notebooks.proxy.origins import NotebookOrigins, jupyter_prefix, session_in_path
from wrappers.notebooks.proxy.passes import Passes
from wrappers.notebooks.proxy.probe import probe
from wrappers.notebooks.settings import notebook_settings
from wrappers.request import own

__all__ = [
    "SECRET_HEADER",
    "UPSTREAM_ANSWER",
    "Connector",
    "NotebookProxy",
    "Passes",
    "claim_origins",
    "portal_routes",
    "probe",
]

log = get_logger("onestop.notebook_proxy")

# How often a bridged WebSocket checks that her portal session and notebook go on
# (a read of the last second, shared by all her sockets: at most a query a second).
SESSION_CHECK_SECONDS = 2.0
PAGE_METHODS = frozenset({"GET", "HEAD"})


NOT_PLAIN = Refusal(
    400,
    "Not a notebook address",
    "This address cannot be passed to a notebook server. Open the notebook from the "
    "portal's Notebooks page.",
    "path",
)


class NotebookProxy:
    """The ASGI app of every notebook origin (HTTP and WebSocket alike)."""

    def __init__(self, settings: Settings, connector: Connector) -> None:
        self.origins = connector.origins
        self.portal = settings.origin
        self.sessions = connector.sessions
        self.passes = connector.passes
        self.connector = connector
        # Every cookie of the portal and of the notebook origins stays out of Jupyter's
        # sight (headers.is_portal_cookie: these and every onestop*/__Host- name).
        self.client = UpstreamClient(
            notebook_settings(settings), frozenset({cookie_name(settings)})
        )

    @classmethod
    def build(cls, settings: Settings, lookup: Lookup, passes: Passes) -> NotebookProxy:
        """The proxy and its Connector (``proxy.connector``, provided beside it)."""
        origins = NotebookOrigins.of(settings)
        return cls(settings, Connector(settings, origins, passes, SessionCache(lookup)))

    async def close(self) -> None:
        await self.client.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = host_name(scope)
        path: str = scope["path"]
        if path in (CONNECT, ENTER):
            await self._connecting(scope, receive, send, host, path)
            return
        if path == DECIDE:
            await decide(self, scope, receive, send)
            return
        session_id = self.origins.session_of(host, path)
        if session_id is not None and path in ("/", jupyter_prefix(session_id)[:-1]):
            if _is_page(scope):  # the session's root: Jupyter then sends her on
                await RedirectResponse(jupyter_prefix(session_id), 307)(scope, receive, send)
                return
        verdict = await self.judge(scope, session_id)
        outcome = verdict.outcome
        if isinstance(outcome, Refusal):
            # A refusal nginx hands on was audited when the decision made it.
            audit = session_id is not None and not from_nginx(scope)
            if outcome.reconnect and _is_page(scope) and session_id is not None:
                if audit:
                    await audit_refusal(scope, "anonymous", session_id, outcome)
                entry = CONNECT + "?" + urlencode({"next": path + _query_suffix(scope)})
                await redirect(entry)(scope, receive, send)
                return
            actor = verdict.identity.unix_name if verdict.identity else "anonymous"
            if audit and session_id is not None:
                await audit_refusal(scope, actor, session_id, outcome)
            await refuse(scope, receive, send, self.portal, outcome)
            return
        assert verdict.identity is not None and verdict.portal is not None
        assert session_id is not None
        scope[ACTOR] = verdict.identity.unix_name
        await scope["app"].state.sessions.keep_alive(verdict.portal)
        if scope["type"] == "websocket":
            await self._bridge(scope, receive, send, verdict, outcome)
            return

        async def unreachable(reason: str) -> None:
            await refuse(
                scope,
                receive,
                send,
                self.portal,
                Refusal(
                    502,
                    "Your notebook is not answering",
                    "The portal could not reach your notebook's Jupyter server. If the "
                    "session is ending or was stopped, its page says so; otherwise wait "
                    "a moment and reload.",
                    reason,
                    audit=False,
                    session_page=session_page(session_id),
                ),
            )

        await self.client.http(scope, receive, send, outcome, unreachable)

    async def judge(self, scope: Scope, session_id: str | None) -> Verdict:
        """Where this request (HTTP or WebSocket) to a notebook origin goes, or why it
        does not: for the embedded proxy and for nginx's question alike (``decide``)."""
        path: str = scope["path"]
        if session_id is None or not path.startswith(jupyter_prefix(session_id)):
            return Verdict(None, NOT_HERE)
        verdict = await admit(scope, session_id, self.origins, self.passes, self.sessions)
        outcome = verdict.outcome
        if isinstance(outcome, Upstream) and not _plain_path(scope, outcome.prefix):
            return Verdict(verdict.identity, NOT_PLAIN)
        return verdict

    async def _connecting(
        self, scope: Scope, receive: Receive, send: Send, host: str, path: str
    ) -> None:
        """``/_onestop/connect`` and ``/_onestop/enter``, for the session this host
        serves (or, on the one shared host, the session ``next`` leads into)."""
        session_id = self.origins.session_of(host, path)
        if session_id is None and not self.origins.per_session and self.origins.claims(host):
            asked = Request(scope).query_params.get("next", "")
            session_id = session_in_path(asked)
        page = scope["type"] == "http" and scope["method"] == "GET"
        if session_id is None or not page:
            await refuse(scope, receive, send, self.portal, NOT_HERE)
            return
        if path == CONNECT:
            await self.connector.start(scope, receive, send, session_id)
        else:
            await self.connector.enter(scope, receive, send, session_id)

    async def _bridge(
        self, scope: Scope, receive: Receive, send: Send, verdict: Verdict, upstream: Upstream
    ) -> None:
        async def still_allowed() -> bool:
            again = await admit(
                scope, upstream.session_id, self.origins, self.passes, self.sessions
            )
            now = again.outcome
            return (
                isinstance(now, Upstream)
                and (now.host, now.port) == (upstream.host, upstream.port)
                and verdict.identity is not None
                and again.identity is not None
                and again.identity.unix_name == verdict.identity.unix_name
            )

        await self.client.websocket(
            scope, receive, send, upstream, still_allowed, SESSION_CHECK_SECONDS
        )


def _is_page(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["method"] in PAGE_METHODS


def _query_suffix(scope: Scope) -> str:
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    return f"?{query}" if query else ""


async def _serve(scope: Scope, receive: Receive, send: Send) -> None:
    """Every notebook origin's requests: this portal's proxy (each portal has its own)."""
    await own(HTTPConnection(scope), NotebookProxy)(scope, receive, send)


def claim_origins(settings: Settings) -> Callable[[str], ASGIApp | None]:
    """``Tool.own_origins``: the notebook hosts of these settings, all served by the proxy."""
    origins = NotebookOrigins.of(settings)

    def claim(host: str) -> ASGIApp | None:
        return _serve if origins.claims(host) else None

    return claim


class SessionIdConvertor(Convertor[str]):
    """``secrets.token_hex(8)``: exactly 16 lower-case hex digits, nothing else."""

    regex = "[0-9a-f]{16}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("notebook_id", SessionIdConvertor())


async def _to_connect(request: Request) -> Response:
    """An old address of a session's Jupyter on the portal's own origin: Jupyter is no
    longer served here; Connect leads to the same place on the session's origin."""
    session_id = request.path_params["session_id"]
    asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = urlencode({"next": asked}) if asked.startswith(jupyter_prefix(session_id)) else ""
    return RedirectResponse(
        f"{session_page(session_id)}/connect" + (f"?{query}" if query else ""), status_code=303
    )


# On the portal's origin: Connect, and the old Jupyter addresses sent there.
portal_routes: list[BaseRoute] = [
    Route("/notebooks/sessions/{session_id:notebook_id}/connect", connect_page, methods=["GET"]),
    Route("/notebooks/{session_id:notebook_id}", _to_connect, methods=["GET"]),
    Route("/notebooks/{session_id:notebook_id}/{path:path}", _to_connect, methods=["GET"]),
]


def _plain_path(scope: Scope, prefix: str) -> bool:
    """The path as sent starts with the session's own prefix and has no dot segments
    (``..`` or ``..%2f``), so Jupyter sees exactly the session's address space."""
    raw = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    if not (raw.startswith(prefix) or raw == prefix.rstrip("/")):
        return False
    segments = scope["path"].split("/")
    return "." not in segments and ".." not in segments and "\\" not in scope["path"]
