"""Security headers on every response, including errors and static files.

The Content-Security-Policy allows no inline script and no inline style: pages load
their behaviour from /static/app.js and htmx is configured (meta htmx-config) not to
inject its own style element or evaluate strings.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings


def content_security_policy(settings: Settings) -> str:
    parts = urlsplit(settings.public_url)
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    idp = urlsplit(settings.oidc.issuer)
    return "; ".join(
        [
            "default-src 'self'",
            # WebAssembly may be compiled (the upload checksums, hash-wasm); no eval.
            "script-src 'self' 'wasm-unsafe-eval'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {ws_scheme}://{parts.netloc}",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            # Sign-out posts here and is redirected on to the identity provider.
            f"form-action 'self' {idp.scheme}://{idp.netloc}",
        ]
    )


OWN_HEADERS = "onestop.own_security_headers"
"""Scope key set by an app relaying another server's page (the notebook proxy): the
page keeps its own Content-Security-Policy, framing and caching rules, since the
portal's would break it, and gets only the headers below that cannot."""
ALWAYS = ("x-content-type-options", "referrer-policy", "permissions-policy")


class SecurityHeadersMiddleware:
    """Adds the headers; ``apply`` is also used for the 500 page, which Starlette
    renders outside the user middleware stack."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = {
            "content-security-policy": content_security_policy(settings),
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "x-frame-options": "DENY",
            "cross-origin-opener-policy": "same-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
        }
        if settings.tls:
            self.headers["strict-transport-security"] = "max-age=31536000"

    def apply(self, headers: MutableHeaders, path: str, relayed: bool = False) -> None:
        if relayed:
            for name in (*ALWAYS, "strict-transport-security"):
                if name in self.headers:
                    headers.setdefault(name, self.headers[name])
            return
        for name, value in self.headers.items():
            headers.setdefault(name, value)
        if not path.startswith(("/static/", "/vendor/")):
            # Nothing private may come back from the cache or the back button.
            headers.setdefault("cache-control", "no-store")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.apply(
                    MutableHeaders(scope=message), scope["path"], bool(scope.get(OWN_HEADERS))
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)
