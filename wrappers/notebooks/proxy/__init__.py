"""The reverse proxy in front of notebook sessions: ``/notebooks/<id>/...`` to her Jupyter.

Every request and WebSocket under a session's address goes through here, after the
portal's own middlewares (session, access log, sign-in guard), and is checked again
each time (``access.admit``: signed in, the session's owner, allowed by policy, the
portal's own Origin, the session reachable). Only then is it forwarded, to the host and
port stored for the session and nowhere else, with the session's secret added in a
header and the portal's cookies taken out (``headers``). The secret never goes to the
browser: Jupyter's own token is empty (scripts/onestop_jupyter.py).

The portal's CSRF token is not asked of these requests, since Jupyter's pages cannot
send it: the Origin check here and Jupyter's own ``_xsrf`` check take its place.
Jupyter's answers keep Jupyter's own security headers (its pages need inline styles,
workers and frames of their own that the portal's policy forbids); the portal's pages
here (refusals) get the portal's.

The proxy owns ``/notebooks/<16 hex digits>`` and everything below it; the portal's own
notebook pages live at other addresses (``/notebooks``, ``/notebooks/sessions/<id>``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from app.logs import get_logger
from app.security.sessions import Identity, cookie_name, session_of
from app.settings import Settings
from app.web.templating import message_page
from wrappers.notebooks.proxy.access import Lookup, Refusal, SessionCache, Upstream, admit
from wrappers.notebooks.proxy.forward import UPSTREAM_ANSWER, UpstreamClient
from wrappers.notebooks.proxy.headers import SECRET_HEADER
from wrappers.notebooks.proxy.probe import probe
from wrappers.notebooks.settings import notebook_settings
from wrappers.request import own

__all__ = [
    "SECRET_HEADER",
    "UPSTREAM_ANSWER",
    "NotebookProxy",
    "is_proxied",
    "probe",
    "routes",
]

log = get_logger("onestop.notebook_proxy")

PROXIED = re.compile(r"^/notebooks/[0-9a-f]{16}(/|$)")
# How often a bridged WebSocket checks that her portal session and notebook go on.
SESSION_CHECK_SECONDS = 10.0


def is_proxied(path: str) -> bool:
    """Whether ``path`` belongs to a session's Jupyter server (and so to the proxy)."""
    return PROXIED.match(path) is not None


class SessionIdConvertor(Convertor[str]):
    """``secrets.token_hex(8)``: exactly 16 lower-case hex digits, nothing else."""

    regex = "[0-9a-f]{16}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("notebook_id", SessionIdConvertor())


async def _to_session_root(request: Request) -> Response:
    """``/notebooks/<id>``: Jupyter itself then sends her to the default page."""
    return RedirectResponse(f"/notebooks/{request.path_params['session_id']}/", 307)


class NotebookProxy:
    """The ASGI app behind the proxy's routes (HTTP and WebSocket alike)."""

    def __init__(self, settings: Settings, lookup: Lookup) -> None:
        self.sessions = SessionCache(lookup)
        self.origin = settings.origin  # worked out once, compared on every request
        self.client = UpstreamClient(
            notebook_settings(settings),
            urlsplit(settings.public_url).netloc,
            frozenset({cookie_name(settings)}),
        )

    async def close(self) -> None:
        await self.client.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session_id: str = scope["path_params"]["session_id"]
        identity, decision = await admit(scope, session_id, self.sessions, self.origin)
        if isinstance(decision, Upstream) and not _plain_path(scope, decision.prefix):
            decision = Refusal(
                400,
                "Not a notebook address",
                "This address cannot be passed to a notebook server. Open the notebook "
                "from the portal's Notebooks page.",
                "path",
            )
        if isinstance(decision, Refusal):
            await self._refuse(scope, receive, send, identity, session_id, decision)
            return
        if scope["type"] == "websocket":
            upstream = decision

            async def still_allowed() -> bool:
                return await self._still_allowed(scope, identity, upstream)

            await self.client.websocket(
                scope, receive, send, upstream, still_allowed, SESSION_CHECK_SECONDS
            )
            return

        async def unreachable(reason: str) -> None:
            await self._refuse(
                scope,
                receive,
                send,
                identity,
                session_id,
                Refusal(
                    502,
                    "Your notebook is not answering",
                    "The portal could not reach your notebook's Jupyter server. If the "
                    "session is ending or was stopped, its page says so; otherwise wait "
                    "a moment and reload.",
                    reason,
                    audit=False,
                    session_page=f"/notebooks/sessions/{session_id}",
                ),
            )

        await self.client.http(scope, receive, send, decision, unreachable)

    async def _still_allowed(
        self, scope: Scope, identity: Identity | None, upstream: Upstream
    ) -> bool:
        state = session_of(scope)
        if identity is None or state.id_hash is None:
            return False
        if not await scope["app"].state.sessions.still_valid(state.id_hash):
            return False
        row = await self.sessions.get(upstream.session_id)
        return (
            row is not None
            and row.owner == identity.unix_name
            and row.state != "ended"
            and (row.host, row.port) == (upstream.host, upstream.port)
        )

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        identity: Identity | None,
        session_id: str,
        refusal: Refusal,
    ) -> None:
        if refusal.audit:
            client = scope.get("client")
            await scope["app"].state.auditor.record(
                actor=identity.unix_name if identity else "anonymous",
                action="notebooks.connect",
                object=f"/notebooks/{session_id}",
                outcome="refused",
                client_ip=client[0] if client else "",
                reason=refusal.reason,
            )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4000 + refusal.status})
            return
        response = message_page(
            Request(scope, receive),
            refusal.heading,
            refusal.text,
            status_code=refusal.status,
            action_url=refusal.session_page or "/notebooks",
            action_label="Go to the session's page" if refusal.session_page else "Go to Notebooks",
            tone="error",
        )
        await response(scope, receive, send)


async def _proxied(scope: Scope, receive: Receive, send: Send) -> None:
    """The route's endpoint: this portal's proxy (each portal has its own)."""
    await own(HTTPConnection(scope), NotebookProxy)(scope, receive, send)


# /notebooks/<16 hex>/...: her Jupyter server. Matched before the portal's own routes
# (Tool.early_routes), because a JupyterLab page makes hundreds of these.
routes: list[BaseRoute] = [
    Route("/notebooks/{session_id:notebook_id}", _to_session_root, methods=["GET"]),
    Route("/notebooks/{session_id:notebook_id}/{path:path}", _proxied),
    WebSocketRoute("/notebooks/{session_id:notebook_id}/{path:path}", _proxied),
]


def _plain_path(scope: Scope, prefix: str) -> bool:
    """The path as sent starts with the session's own prefix and has no dot segments
    (``..`` or ``..%2f``), so Jupyter sees exactly the session's address space."""
    raw = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    if not (raw.startswith(prefix) or raw == prefix.rstrip("/")):
        return False
    segments = scope["path"].split("/")
    return "." not in segments and ".." not in segments and "\\" not in scope["path"]
