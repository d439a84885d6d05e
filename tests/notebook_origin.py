"""Reaching notebook sessions on their own origins, as a browser does, without one.

Each session is served at ``http://<session id>.nb.localhost:<portal port>``. Chromium
resolves every ``*.localhost`` name to loopback; this machine's resolver does not, so
the clients here connect such names to 127.0.0.1 while keeping the name in the Host
header and the cookie jar (``browser``), which is all the portal sees of a browser.
``connect`` goes through Connect as a click does: from the portal to the session's
origin and back, for a code, and to the origin again to exchange it for its cookie.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.helpers import sign_in
from tests.jupyter_session import Jupyter, register

NOTEBOOK_DOMAIN = "nb.localhost"


def nb_origin(portal_url: str, session_id: str) -> str:
    """The session's origin, on the portal's port (the demo's notebooks.domain)."""
    port = urlsplit(portal_url).port
    return f"http://{session_id}.{NOTEBOOK_DOMAIN}:{port}"


def nb_host(portal_url: str, session_id: str) -> str:
    return urlsplit(nb_origin(portal_url, session_id)).netloc


class Loopback(httpx.HTTPTransport):
    """Connects ``*.localhost`` names to 127.0.0.1, as Chromium does; the request
    (its Host header, and the name the cookie jar files cookies under) is untouched."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        asked = request.url
        if asked.host.endswith(".localhost"):
            request.url = asked.copy_with(host="127.0.0.1")
        try:
            return super().handle_request(request)
        finally:
            request.url = asked


def browser() -> httpx.Client:
    """A client that reaches the portal and notebook origins alike; no redirects
    followed by itself."""
    return httpx.Client(transport=Loopback(), follow_redirects=False, timeout=30)


@contextmanager
def signed_in_browser(portal_url: str, who: str) -> Iterator[httpx.Client]:
    with browser() as client:
        assert sign_in(client, portal_url, who).status_code == 303
        yield client


def follow(client: httpx.Client, url: str, limit: int = 10) -> tuple[httpx.Response, list[str]]:
    """GET ``url`` and every redirect after it, across origins; the last answer and
    every address visited."""
    visited = [url]
    response = client.get(url)
    while response.is_redirect:
        assert len(visited) <= limit, visited
        url = urljoin(str(response.url), response.headers["location"])
        visited.append(url)
        response = client.get(url)
    return response, visited


def connect_session(
    client: httpx.Client, portal_url: str, session_id: str, next_path: str = ""
) -> tuple[httpx.Response, list[str]]:
    """Connect, as a click on the session's Connect button: the last answer (Jupyter's
    page) and the addresses on the way."""
    url = f"{portal_url}/notebooks/sessions/{session_id}/connect"
    if next_path:
        url += "?" + urlencode({"next": next_path})
    return follow(client, url)


def cookies_for(client: httpx.Client, host: str) -> str:
    """The Cookie header a browser would send to ``host`` (a name, no port)."""
    sent = []
    for cookie in client.cookies.jar:
        domain = cookie.domain
        if domain == host or (domain.startswith(".") and host.endswith(domain)):
            sent.append(f"{cookie.name}={cookie.value}")
    return "; ".join(sent)


def open_ws(
    url: str, cookie: str = "", origin: str | None = None, **extra: Any
) -> ClientConnection:
    """A WebSocket to ``url`` (ws://...), to 127.0.0.1 for a ``*.localhost`` name."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    address = "127.0.0.1" if parts.hostname.endswith(".localhost") else parts.hostname
    sock = socket.create_connection((address, parts.port), timeout=20)
    headers = {"Cookie": cookie} if cookie else {}
    opened: ClientConnection = connect(
        url,
        sock=sock,
        additional_headers=headers,
        origin=Origin(origin) if origin else None,
        open_timeout=20,
        max_size=None,
        **extra,
    )
    return opened


class _Answering(BaseHTTPRequestHandler):
    """Stands for a session's Jupyter: 200 and what it was asked, to anything."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        payload = json.dumps({"path": self.path, "host": self.headers["host"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def answering() -> Iterator[int]:
    """A stand-in server for sessions that need no real Jupyter; its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def stand_in(database_url: str, port: int, owner: str = "alice") -> Jupyter:
    """A ready session of ``owner``'s, recorded as the monitor leaves one, whose
    server is the stand-in at ``port`` (no job: the monitor leaves it alone for two
    minutes)."""
    session = Jupyter(
        secrets.token_hex(8),
        owner,
        secrets.token_urlsafe(32),
        "127.0.0.1",
        port,
        Path(f"/home/{owner}"),
        Path("/dev/null"),
    )
    register(database_url, session)
    return session
