"""Everything but a short public list needs a signed-in person.

One middleware instead of a check per route: a new page is private unless it is
added to PUBLIC_PATHS on purpose.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.security.sessions import session_of

PUBLIC_PATHS = frozenset({"/login", "/auth/callback", "/signed-out", "/healthz"})
PUBLIC_PREFIXES = ("/static/", "/vendor/")


def is_public(path: str, tools_prefixes: tuple[str, ...] = ()) -> bool:
    """The few paths a person must reach before signing in (exact paths, not prefixes,
    except for static assets and what tools open to everyone, Tool.public_prefixes:
    the files tool's public links, which check the link themselves)."""
    return (
        path in PUBLIC_PATHS
        or path.startswith(PUBLIC_PREFIXES)
        or bool(tools_prefixes and path.startswith(tools_prefixes))
    )


class RequireSignIn:
    """Redirects a page request to sign-in (keeping where it was going), answers 401
    to other methods, and refuses WebSockets; public paths pass untouched."""

    def __init__(self, app: ASGIApp, public_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.public_prefixes = public_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_public(
            scope["path"], self.public_prefixes
        ):
            await self.app(scope, receive, send)
            return
        if session_of(scope).identity is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            client = scope.get("client")
            await scope["app"].state.auditor.record(
                actor="anonymous",
                action="ws.connect",
                object=scope["path"],
                outcome="refused",
                client_ip=client[0] if client else "",
                reason="not signed in",
            )
            await send({"type": "websocket.close", "code": 4401, "reason": "sign in first"})
            return
        if scope["method"] in ("GET", "HEAD"):
            target = scope["path"]
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            response: PlainTextResponse | RedirectResponse = RedirectResponse(
                "/login?" + urlencode({"next": target}), status_code=303
            )
        else:
            response = PlainTextResponse("Please sign in first.", status_code=401)
        await response(scope, receive, send)
