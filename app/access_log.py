"""One structured line per request, naming the signed-in person.

Replaces uvicorn's access log, which knows addresses but not people; placed inside
the session middleware so the identity is known, and outside everything else so
refusals (CSRF, sign-in guard) are logged too.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import get_logger
from app.security.sessions import SessionState

log = get_logger("onestop.access")

ACTOR = "onestop.actor"
"""Scope key for the person an app outside the portal's session middleware let in."""


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Bound once, after create_app configured logging (Starlette builds the
        # middlewares on the first request): each line then skips the lazy proxy's
        # look-up of the configuration, a busy notebook page logs hundreds a second.
        self.log = log.bind()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/static/", "/vendor/")):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            state = scope.get("onestop.session")
            identity = state.identity if isinstance(state, SessionState) else None
            # A tool's own origin (app/origins.py) names whom it let in itself.
            user = identity.unix_name if identity else scope.get(ACTOR) or "anonymous"
            client = scope.get("client")
            self.log.info(
                "request",
                user=user,
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                client_ip=client[0] if client else "",
            )
