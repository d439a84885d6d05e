"""Moving bytes between the browser and a session's Jupyter server, with aiohttp.

HTTP streams both ways: the request body goes up as the browser sends it and the
answer comes down as Jupyter writes it, each piece passed on as it arrives, so a
100 MB download or upload never sits in the portal's memory; the ASGI server's flow
control slows the reader when the other side is slower. WebSockets are bridged
message by message (kernels, terminals), text and binary, with the subprotocol
Jupyter chose. One aiohttp session per process keeps connections to each server
alive between requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from starlette.types import Message, Receive, Scope, Send
from yarl import URL

from app.logs import get_logger
from app.realtime.together import until_one_ends
from app.security.headers import OWN_HEADERS
from wrappers.notebooks.proxy.access import Upstream
from wrappers.notebooks.proxy.headers import downstream_headers, upstream_headers
from wrappers.notebooks.settings import NotebookSettings

__all__ = ["UPSTREAM_ANSWER", "UpstreamClient"]

log = get_logger("onestop.notebook_proxy")

# aiohttp adds these when a request lacks them; the browser's own (or none) go up.
NO_AUTO_HEADERS = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})
UPSTREAM_ANSWER = OWN_HEADERS
"""Set in the scope once Jupyter's answer (not a portal page) is being sent."""
_LEFT = "onestop.browser_left"
# Answers up to this size (most API answers) are read whole and sent in one piece:
# one message through the middlewares instead of three, for the commonest requests.
SMALL = 64 * 1024


class _BrowserLeft(Exception):
    """The browser closed its connection while its request body was being sent up."""


def _url(upstream: Upstream, scope: Scope) -> URL:
    """The stored host and port, with the path exactly as the browser encoded it."""
    raw = scope.get("raw_path") or scope["path"].encode()
    return URL.build(
        scheme="http",
        host=upstream.host,
        port=upstream.port,
        path=bytes(raw).decode("latin-1"),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        encoded=True,
    )


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


async def _body(receive: Receive, scope: Scope) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # aiohttp reports this as its own error; the mark says whose it was.
            scope[_LEFT] = True
            raise _BrowserLeft
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _close_code(code: int | None) -> int:
    """A code an ASGI server may send (1005/1006/1015 only describe, never close)."""
    if code is None or code in (1005, 1006, 1015) or not 1000 <= code <= 4999:
        return 1000 if code in (None, 1005) else 1011
    return code


class UpstreamClient:
    """The process's one aiohttp session towards notebook servers."""

    def __init__(self, settings: NotebookSettings, portal_cookies: frozenset[str]) -> None:
        self._settings = settings
        self._portal_cookies = portal_cookies
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running event loop, as aiohttp requires.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=self._settings.proxy_connect_timeout_seconds,
                    sock_read=self._settings.proxy_read_timeout_seconds,
                ),
                auto_decompress=False,
                # Once for the session rather than per request (aiohttp rebuilds the
                # set each time it is passed to a request).
                skip_auto_headers=NO_AUTO_HEADERS,
                cookie_jar=aiohttp.DummyCookieJar(),
                read_bufsize=2**18,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self, scope: Scope, upstream: Upstream) -> list[tuple[str, str]]:
        return upstream_headers(
            scope["headers"],
            host=upstream.public_host,
            secret=upstream.secret,
            pass_tag=upstream.pass_tag,
            portal_cookies=self._portal_cookies,
        )

    async def http(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        on_failure: Callable[[str], Awaitable[None]],
    ) -> None:
        """Forward one request; ``on_failure`` answers the browser when Jupyter cannot."""
        body = _body(receive, scope) if _has_body(scope) else None
        try:
            url = _url(upstream, scope)
        except ValueError:  # a stored host that is no host name: never forwarded
            log.warning("notebook_bad_address", session=upstream.session_id)
            await on_failure("bad address")
            return
        try:
            async with self._client().request(
                scope["method"],
                url,
                headers=self._headers(scope, upstream),
                data=body,
                allow_redirects=False,
            ) as response:
                headers = downstream_headers(
                    response.headers.items(),
                    request_path=scope["path"],
                    prefix=upstream.prefix,
                    portal_cookies=self._portal_cookies,
                )
                if headers is None:
                    log.warning("notebook_redirect_outside", session=upstream.session_id)
                    await on_failure("redirect outside the session")
                    return
                small = response.content_length is not None and response.content_length <= SMALL
                whole = await response.read() if small and scope["method"] != "HEAD" else b""
                scope[UPSTREAM_ANSWER] = True
                await send(
                    {"type": "http.response.start", "status": response.status, "headers": headers}
                )
                if not small and scope["method"] != "HEAD":
                    async for chunk in response.content.iter_any():
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": whole})
        except _BrowserLeft:
            return
        except (aiohttp.ClientError, TimeoutError) as error:
            if scope.get(_LEFT):
                return
            if scope.get(UPSTREAM_ANSWER):
                raise  # the answer has begun: the connection is cut, nothing else to say
            log.info("notebook_unreachable", session=upstream.session_id, error=repr(error))
            await on_failure("unreachable")

    async def websocket(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        still_allowed: Callable[[], Awaitable[bool]],
        check_seconds: float,
    ) -> None:
        """Bridge one WebSocket (already checked, not yet accepted) to Jupyter."""
        connect: Message = await receive()
        if connect["type"] != "websocket.connect":
            return
        try:
            ws = await self._client().ws_connect(
                _url(upstream, scope),
                protocols=scope.get("subprotocols", []),
                headers=self._headers(scope, upstream),
                autoping=True,
                max_msg_size=0,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10.0),
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.info("notebook_ws_unreachable", session=upstream.session_id, error=repr(error))
            await send({"type": "websocket.close", "code": 1011, "reason": "notebook unreachable"})
            return
        async with ws:
            await send({"type": "websocket.accept", "subprotocol": ws.protocol})

            async def browser_to_jupyter() -> None:
                while True:
                    message = await receive()
                    if message["type"] == "websocket.disconnect":
                        await ws.close(code=_close_code(message.get("code")))
                        return
                    if message.get("bytes") is not None:
                        await ws.send_bytes(message["bytes"])
                    elif message.get("text") is not None:
                        await ws.send_str(message["text"])

            async def jupyter_to_browser() -> None:
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        await send({"type": "websocket.send", "text": message.data})
                    elif message.type == aiohttp.WSMsgType.BINARY:
                        await send({"type": "websocket.send", "bytes": message.data})
                    elif message.type == aiohttp.WSMsgType.ERROR:
                        break
                with contextlib.suppress(Exception):
                    await send({"type": "websocket.close", "code": _close_code(ws.close_code)})

            async def watch() -> None:
                """A revoked portal session or a stopped notebook ends the socket."""
                while True:
                    if not await still_allowed():
                        break
                    await asyncio.sleep(check_seconds)  # a database check, not an event
                with contextlib.suppress(Exception):
                    await send({"type": "websocket.close", "code": 4401})

            ended = await until_one_ends(browser_to_jupyter(), jupyter_to_browser(), watch())
            for failure in ended:
                if not isinstance(failure, OSError | RuntimeError):
                    log.warning(
                        "notebook_ws_error", session=upstream.session_id, error=repr(failure)
                    )
