"""CSRF protection for every state-changing request, in one place.

The token is per session. htmx sends it as the ``X-CSRF-Token`` header (static/app.js
reads it from a meta tag); plain HTML forms send it as the ``csrf_token`` field.
A request that changes state without it never reaches a route.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.security.sessions import session_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = b"x-csrf-token"
FIELD = "csrf_token"
# A job script may be 1 MiB, which URL-encoding can make three times longer.
MAX_FORM_BYTES = 4 * 1024 * 1024


def csrf_token(scope: Scope) -> str:
    """The session's token, minted on first use."""
    state = session_of(scope)
    token = state.data.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        state.data["csrf"] = token
    return token


class CSRFMiddleware:
    """Every state-changing request on the portal's origin carries the session's token.
    There is no exemption: what answers with checks of its own (a notebook's Jupyter)
    lives on an origin of its own (app/origins.py) and never comes through here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        expected = session_of(scope).data.get("csrf")
        sent = dict(scope["headers"]).get(HEADER, b"").decode("latin-1")
        replay: list[Message] = []
        if not sent and _is_form(scope):
            body, replay = await _read_body(receive)
            if body is None:
                await _refuse(scope, receive, send, "The form was too large.")
                return
            sent = parse_qs(body.decode("utf-8", "replace")).get(FIELD, [""])[0]
        if not isinstance(expected, str) or not secrets.compare_digest(
            sent.encode("utf-8", "replace"), expected.encode()
        ):
            await _audit_refusal(scope)
            await _refuse(
                scope,
                receive,
                send,
                "This request was refused because it did not come from a page of this "
                "portal (missing or stale security token). Reload the page and try again.",
            )
            return
        if replay:
            pending = list(replay)

            async def replay_receive() -> Message:
                return pending.pop(0) if pending else await receive()

            await self.app(scope, replay_receive, send)
            return
        await self.app(scope, receive, send)


def _is_form(scope: Scope) -> bool:
    """Only small urlencoded forms are read for the field; multipart requests (uploads)
    must send the header, so the body is never buffered here."""
    content_type: bytes = dict(scope["headers"]).get(b"content-type", b"")
    return content_type.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded"


async def _audit_refusal(scope: Scope) -> None:
    identity = session_of(scope).identity
    client = scope.get("client")
    await scope["app"].state.auditor.record(
        actor=identity.unix_name if identity else "anonymous",
        action="csrf.check",
        object=f"{scope['method']} {scope['path']}",
        outcome="refused",
        client_ip=client[0] if client else "",
    )


async def _read_body(receive: Receive) -> tuple[bytes | None, list[Message]]:
    chunks: list[bytes] = []
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None, messages
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


async def _refuse(scope: Scope, receive: Receive, send: Send, text: str) -> None:
    response = PlainTextResponse(text, status_code=403)
    await response(scope, receive, send)
