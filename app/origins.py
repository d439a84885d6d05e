"""Hosts a tool serves whole (``Tool.own_origins``), taken before the portal sees them.

The notebooks tool gives each notebook session a host of its own, so that script in a
notebook never runs on the portal's origin. A request to such a host is handed to the
tool's app before anything else: it never reaches the portal's sessions, cookies,
CSRF check, sign-in guard or routes. It still gets the portal's security headers
(outside this middleware; a relayed page keeps its own policy, as
``app.security.headers`` says) and a line in the access log.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.access_log import AccessLogMiddleware

__all__ = ["HostClaim", "ToolOrigins", "host_name", "host_of"]

HostClaim = Callable[[str], ASGIApp | None]
"""``claim(host)``: the app answering everything sent to ``host`` (a name, lower case,
without the port), or None for the portal's own."""

_TARGET = "onestop.origin_app"


def host_of(host_header: str) -> str:
    """A Host header's name alone: lower case, without the port or a final dot."""
    host = host_header.strip().lower()
    if host.startswith("["):  # an IPv6 literal
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


def host_name(scope: Scope) -> str:
    """The request's Host name (``host_of`` its Host header; empty without one)."""
    for key, value in scope.get("headers", []):
        if key == b"host":
            return host_of(bytes(value).decode("latin-1"))
    return ""


async def _claimed(scope: Scope, receive: Receive, send: Send) -> None:
    await scope[_TARGET](scope, receive, send)


class ToolOrigins:
    """Sends requests for a tool's own hosts to the tool's app, the rest on."""

    def __init__(self, app: ASGIApp, claim: HostClaim) -> None:
        self.app = app
        self.claim = claim
        self.logged = AccessLogMiddleware(_claimed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            target = self.claim(host_name(scope))
            if target is not None:
                scope[_TARGET] = target
                await self.logged(scope, receive, send)
                return
        await self.app(scope, receive, send)
