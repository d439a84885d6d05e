"""The notebook proxy against real Jupyter servers run as alice and bob, through a real portal.

Each session is served on its own origin (``http://<id>.nb.localhost:<port>``), which
a browser enters through Connect (tests/notebook_origin.py). Alice owns one session,
bob another. Only alice reaches hers: bob (signed in, with his own session), erin (an
admin), a signed-out browser and a page of another site (the portal's own origin
included) are all refused, over HTTP and WebSocket, and see nothing of hers. A kernel
runs code through the proxy's WebSocket, a terminal runs as alice, files go up and
come down. The secret that opens her server is never in anything the browser gets,
nor in the portal's log or audit trail. No request can steer the proxy to another
upstream.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection

from tests import notebook_paths
from tests.conftest import Portal
from tests.helpers import wait_until
from tests.jupyter_session import (
    KERNEL_PROTOCOL,
    Jupyter,
    execute_request,
    execute_result,
    jupyter_as,
    register,
)
from tests.notebook_origin import (
    browser,
    connect_session,
    cookies_for,
    follow,
    nb_host,
    nb_origin,
    open_ws,
    signed_in_browser,
)
from tests.notebook_paths import AUTH_CACHE_SECONDS
from wrappers.notebooks.proxy import probe

# Through the portal's own proxy and through nginx (tests/notebook_paths.py).
portal = notebook_paths.portal
proxy_path = notebook_paths.proxy_path

# Everything any browser got back in this module, checked for the secrets at the end.
SEEN: list[str] = []


def seen(response: httpx.Response) -> httpx.Response:
    SEEN.append(f"{response.status_code} {response.headers!r}\n{response.text}")
    return response


class Recorder(BaseHTTPRequestHandler):
    """A server that is not Jupyter: it answers with what it was sent, so a test can
    see exactly what the proxy passed upstream, and counts every hit."""

    hits: list[dict[str, Any]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {
            "method": self.command,
            "path": self.path,
            "headers": [[k.lower(), v] for k, v in self.headers.items()],
            "body": body.decode("latin-1"),
        }
        self.hits.append(record)
        if self.path.endswith("/redirect-out"):
            self.send_response(302)
            self.send_header("Location", "http://elsewhere.example/steal")
            self.end_headers()
            return
        if self.path.endswith("/redirect-in"):
            self.send_response(302)
            port = self.server.server_address[1]
            self.send_header("Location", f"http://127.0.0.1:{port}{self.path[:-12]}/landing?a=1")
            self.end_headers()
            return
        payload = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.path.endswith("/cookies"):
            self.send_header("Set-Cookie", "onestop_session=planted; Path=/")
            self.send_header("Set-Cookie", "__Host-onestop=planted; Path=/; Secure")
            self.send_header("Set-Cookie", "onestop_nb=planted; Path=/")
            self.send_header("Set-Cookie", "theme=dark; Path=/; Domain=127.0.0.1; HttpOnly")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@pytest.fixture(scope="module")
def recorder() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def alice_nb(portal: Portal) -> Iterator[Jupyter]:
    with jupyter_as("alice") as jupyter:
        register(portal.database_url, jupyter)
        yield jupyter


@pytest.fixture(scope="module")
def bob_nb(portal: Portal) -> Iterator[Jupyter]:
    with jupyter_as("bob") as jupyter:
        register(portal.database_url, jupyter)
        yield jupyter


@pytest.fixture(scope="module")
def alice(portal: Portal, alice_nb: Jupyter) -> Iterator[httpx.Client]:
    """Alice's browser, signed in and connected to her session."""
    with signed_in_browser(portal.url, "alice") as client:
        assert seen(connect_session(client, portal.url, alice_nb.session_id)[0]).status_code == 200
        yield client


@pytest.fixture(scope="module")
def bob(portal: Portal) -> Iterator[httpx.Client]:
    with signed_in_browser(portal.url, "bob") as client:
        yield client


@pytest.fixture(scope="module")
def erin(portal: Portal) -> Iterator[httpx.Client]:
    with signed_in_browser(portal.url, "erin") as client:
        yield client


def at(portal: Portal, jupyter: Jupyter, path: str = "") -> str:
    """An address on the session's own origin: its Jupyter's base, then ``path``."""
    return nb_origin(portal.url, jupyter.session_id) + jupyter.base + path


def xsrf_headers(client: httpx.Client, portal: Portal, jupyter: Jupyter) -> dict[str, str]:
    """What JupyterLab's own scripts send with a change: its _xsrf token and the
    session's own Origin."""
    if not any(cookie.name == "_xsrf" for cookie in jar_of(client, portal, jupyter)):
        assert seen(client.get(at(portal, jupyter, "lab"))).status_code == 200
    token = next(
        c.value
        for c in jar_of(client, portal, jupyter)
        if c.name == "_xsrf" and c.path == jupyter.base
    )
    return {"X-XSRFToken": token, "Origin": nb_origin(portal.url, jupyter.session_id)}


def jar_of(client: httpx.Client, portal: Portal, jupyter: Jupyter) -> list[Any]:
    host = nb_host(portal.url, jupyter.session_id).split(":")[0]
    return [cookie for cookie in client.cookies.jar if cookie.domain == host]


def cookie_header(client: httpx.Client, portal: Portal, jupyter: Jupyter) -> str:
    """What a browser sends to the session's origin: its cookies there, nothing else."""
    return cookies_for(client, nb_host(portal.url, jupyter.session_id).split(":")[0])


def signs_in(portal: Portal, visited: list[str]) -> bool:
    """Whether the way ``follow`` went led to the portal's sign-in."""
    return any(url.startswith(f"{portal.url}/login?") for url in visited)


def ws_at(portal: Portal, jupyter: Jupyter, path: str) -> str:
    return at(portal, jupyter, path).replace("http://", "ws://")


def open_nb_ws(
    portal: Portal, client: httpx.Client | None, jupyter: Jupyter, path: str, **extra: Any
) -> ClientConnection:
    cookie = cookie_header(client, portal, jupyter) if client is not None else ""
    origin = extra.pop("origin", nb_origin(portal.url, jupyter.session_id))
    return open_ws(ws_at(portal, jupyter, path), cookie, origin, **extra)


def start_kernel(client: httpx.Client, portal: Portal, jupyter: Jupyter) -> str:
    response = seen(
        client.post(
            at(portal, jupyter, "api/kernels"),
            json={"name": "python3"},
            headers=xsrf_headers(client, portal, jupyter),
        )
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_she_reaches_her_own_jupyterlab(
    portal: Portal, alice: httpx.Client, alice_nb: Jupyter
) -> None:
    # The portal's own origin serves no Jupyter: its old address leads to Connect.
    old = seen(alice.get(f"{portal.url}/notebooks/{alice_nb.session_id}/lab"))
    assert old.status_code == 303
    assert old.headers["location"].startswith(f"/notebooks/sessions/{alice_nb.session_id}/connect?")
    origin = nb_origin(portal.url, alice_nb.session_id)
    short = seen(alice.get(f"{origin}/notebooks/{alice_nb.session_id}"))
    assert short.status_code == 307 and short.headers["location"] == alice_nb.base
    root = seen(alice.get(at(portal, alice_nb)))
    assert root.status_code == 302
    assert root.headers["location"].startswith(f"{alice_nb.base}lab")
    lab = seen(alice.get(at(portal, alice_nb, "lab")))
    assert lab.status_code == 200
    assert "jupyter-config-data" in lab.text
    found = re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', lab.text, re.S)
    assert found, lab.text[:500]
    config = json.loads(found.group(1))
    assert config["token"] == "", "Jupyter's own token stays empty: nothing to copy from the page"
    assert config["baseUrl"] == alice_nb.base
    # Jupyter's answer keeps Jupyter's security policy (the portal's would break the
    # page), and the portal's own Date and Server are not doubled.
    assert "frame-ancestors 'self'" in lab.headers["content-security-policy"]
    assert len(lab.headers.get_list("date")) == 1
    status = seen(alice.get(at(portal, alice_nb, "api/status")))
    assert status.status_code == 200 and "started" in status.json()


def test_signed_out_browsers_are_sent_to_sign_in(portal: Portal, alice_nb: Jupyter) -> None:
    with browser() as stranger:
        page, visited = follow(stranger, at(portal, alice_nb, "lab"))
        seen(page)
        # Through Connect on the session's origin, to the portal, which wants a sign-in.
        assert "/_onestop/connect?" in visited[1], visited
        assert signs_in(portal, visited), visited
        api = seen(stranger.post(at(portal, alice_nb, "api/kernels"), json={}))
        assert api.status_code in (401, 403)
    with pytest.raises(InvalidStatus) as refused:
        open_nb_ws(portal, None, alice_nb, "api/events/subscribe")
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("who", ["bob", "erin"])
def test_nobody_else_gets_in_not_even_an_admin(
    request: pytest.FixtureRequest,
    portal: Portal,
    alice: httpx.Client,
    alice_nb: Jupyter,
    bob_nb: Jupyter,
    who: str,
) -> None:
    other: httpx.Client = request.getfixturevalue(who)
    kernel = start_kernel(alice, portal, alice_nb)
    notes = Path("/home/alice") / "private-notes.txt"
    notes.write_text("alice's private notes\n")
    request.addfinalizer(notes.unlink)
    # Connect refuses her session to anyone else: no pass for its origin.
    refused, visited = connect_session(other, portal.url, alice_nb.session_id)
    seen(refused)
    assert refused.status_code == 404 and "not yours" in refused.text
    assert not any(url.startswith(nb_origin(portal.url, alice_nb.session_id)) for url in visited)
    for path in (
        "lab",
        "api/contents",
        "api/contents/private-notes.txt",
        "files/private-notes.txt",
        f"api/kernels/{kernel}",
        "api/sessions",
        "api/terminals",
    ):
        # Without a pass, every page of her origin leads to Connect, which says no.
        response, _ = follow(other, at(portal, alice_nb, path))
        seen(response)
        assert response.status_code == 404, (who, path, response.status_code)
        assert "not yours" in response.text
        assert "private notes" not in response.text and kernel not in response.text
    # Even with alice's own XSRF token and the right Origin, a change is refused.
    changed = seen(
        other.post(
            at(portal, alice_nb, "api/kernels"),
            json={"name": "python3"},
            headers=xsrf_headers(alice, portal, alice_nb),
        )
    )
    assert changed.status_code == 401 and "private notes" not in changed.text
    for path in (f"api/kernels/{kernel}/channels", "api/events/subscribe"):
        with pytest.raises(InvalidStatus) as refused_ws:
            open_nb_ws(portal, other, alice_nb, path)
        assert refused_ws.value.response.status_code == 403
    # Bob's own session is his: the refusal is about alice's, not about notebooks.
    if who == "bob":
        assert seen(connect_session(other, portal.url, bob_nb.session_id)[0]).status_code == 200
        own = seen(other.get(at(portal, bob_nb, "api/status")))
        assert own.status_code == 200


def test_a_page_of_another_site_is_refused(
    portal: Portal, alice: httpx.Client, alice_nb: Jupyter, bob_nb: Jupyter
) -> None:
    headers = xsrf_headers(alice, portal, alice_nb)
    # The portal's own origin and another session's are other sites to this one.
    others = (
        "http://elsewhere.example",
        "null",
        portal.url,
        nb_origin(portal.url, bob_nb.session_id),
        None,
    )
    for origin in others:
        sent = dict(headers)
        if origin is None:
            del sent["Origin"]
        else:
            sent["Origin"] = origin
        response = seen(
            alice.post(at(portal, alice_nb, "api/kernels"), json={"name": "python3"}, headers=sent)
        )
        assert response.status_code == 403, origin
        assert "did not come from a page of this notebook session" in response.text
    foreign_read = seen(
        alice.get(
            at(portal, alice_nb, "api/contents"), headers={"Origin": "http://elsewhere.example"}
        )
    )
    assert foreign_read.status_code == 403
    for origin in ("http://elsewhere.example", portal.url):
        with pytest.raises(InvalidStatus) as refused:
            open_nb_ws(portal, alice, alice_nb, "api/events/subscribe", origin=origin)
        assert refused.value.response.status_code == 403
    # Jupyter's own XSRF check still stands behind the Origin check.
    no_token = seen(
        alice.post(
            at(portal, alice_nb, "api/kernels"),
            json={"name": "python3"},
            headers={"Origin": nb_origin(portal.url, alice_nb.session_id)},
        )
    )
    assert no_token.status_code == 403 and "_xsrf" in no_token.text


def test_a_kernel_runs_code_over_the_proxied_websocket(
    portal: Portal, alice: httpx.Client, alice_nb: Jupyter
) -> None:
    kernel = start_kernel(alice, portal, alice_nb)
    session = str(uuid.uuid4())
    path = f"api/kernels/{kernel}/channels?session_id={session}"
    with open_nb_ws(portal, alice, alice_nb, path, subprotocols=[KERNEL_PROTOCOL]) as ws:
        assert ws.subprotocol == KERNEL_PROTOCOL, "Jupyter's choice of protocol comes through"
        results = []
        for code, expected in (("2+2", "4"), ("import os; os.getuid() == 2001", "True")):
            msg_id, frame = execute_request(code, session)
            ws.send(frame)
            deadline = time.monotonic() + 60
            result = None
            while result is None:
                assert time.monotonic() < deadline, f"no result for {code}"
                answer = ws.recv(timeout=60)
                assert isinstance(answer, bytes), "v1 kernel messages are binary frames"
                result = execute_result(answer, msg_id)
            results.append((result, expected))
        assert [r for r, _ in results] == [e for _, e in results]


def test_a_terminal_runs_as_her(portal: Portal, alice: httpx.Client, alice_nb: Jupyter) -> None:
    made = seen(
        alice.post(
            at(portal, alice_nb, "api/terminals"), headers=xsrf_headers(alice, portal, alice_nb)
        )
    )
    assert made.status_code == 200, made.text
    name = made.json()["name"]
    with open_nb_ws(portal, alice, alice_nb, f"terminals/websocket/{name}") as ws:
        ws.send(json.dumps(["stdin", "echo me-$(id -un)-$((6*7))\r"]))
        output = ""
        deadline = time.monotonic() + 30
        while "me-alice-42" not in output:
            assert time.monotonic() < deadline, output
            message = json.loads(ws.recv(timeout=30))
            if message[0] == "stdout":
                output += message[1]


def test_files_go_up_and_come_down_intact(
    portal: Portal, alice: httpx.Client, alice_nb: Jupyter
) -> None:
    name = f"proxy-{secrets.token_hex(4)}.txt"
    text_body = "saved through the proxy\n" * 1000
    saved = seen(
        alice.put(
            at(portal, alice_nb, f"api/contents/{name}"),
            json={"type": "file", "format": "text", "content": text_body},
            headers=xsrf_headers(alice, portal, alice_nb),
        )
    )
    assert saved.status_code in (200, 201), saved.text
    on_disk = Path("/home/alice") / name
    assert on_disk.read_text() == text_body and on_disk.stat().st_uid == 2001
    # An upload as JupyterLab sends one: the file's bytes in base64, 12 MB of request.
    uploaded = Path("/home/alice") / f"proxy-{secrets.token_hex(4)}.bin"
    upload = secrets.token_bytes(9 * 1024 * 1024)
    sent = seen(
        alice.put(
            at(portal, alice_nb, f"api/contents/{uploaded.name}"),
            json={"type": "file", "format": "base64", "content": base64.b64encode(upload).decode()},
            headers=xsrf_headers(alice, portal, alice_nb),
        )
    )
    assert sent.status_code in (200, 201), sent.text[:300]
    assert uploaded.read_bytes() == upload and uploaded.stat().st_uid == 2001
    uploaded.unlink()
    # A bigger binary file, read back through /files/ as a stream.
    blob = Path("/home/alice") / f"proxy-{secrets.token_hex(4)}.bin"
    data = secrets.token_bytes(24 * 1024 * 1024)
    blob.write_bytes(data)
    digest = hashlib.sha256()
    # Jupyter serves /files/ only to its own pages (Referer), as a browser sends it.
    referer = {"Referer": at(portal, alice_nb, "lab")}
    url = at(portal, alice_nb, f"files/{blob.name}")
    with alice.stream("GET", url, headers=referer) as download:
        assert download.status_code == 200
        assert int(download.headers["content-length"]) == len(data)
        for chunk in download.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    on_disk.unlink()
    blob.unlink()


def stand_in(recorder: ThreadingHTTPServer, alice_nb: Jupyter) -> Jupyter:
    """A session of alice's whose 'server' is the recorder."""
    return Jupyter(
        secrets.token_hex(8),
        "alice",
        secrets.token_urlsafe(32),
        "127.0.0.1",
        recorder.server_address[1],
        alice_nb.folder,
        alice_nb.log,
    )


def test_what_goes_upstream_and_comes_back(
    portal: Portal,
    alice: httpx.Client,
    alice_nb: Jupyter,
    recorder: ThreadingHTTPServer,
    proxy_path: str,
) -> None:
    """A stand-in upstream that reports what it got (Jupyter cannot): the secret and the
    session's own host go up, the portal's and the origin's cookies and the CSRF token
    do not, and nothing that comes back can plant a cookie or lead the browser away.

    nginx cannot drop one Set-Cookie among several, nor answer 502 for a redirect:
    there a cookie of Jupyter's loses its Domain and is kept to the session's path
    (so it lands on this session's own host only, and a ``__Host-`` one is void), and
    a redirect out of the session leads to a refusal on the session's origin."""
    fake = stand_in(recorder, alice_nb)
    register(portal.database_url, fake)
    assert seen(connect_session(alice, portal.url, fake.session_id)[0]).status_code == 200
    Recorder.hits.clear()
    host = nb_host(portal.url, fake.session_id)
    alice.cookies.set("theme", "light", domain=host.split(":")[0], path="/")
    base = at(portal, fake)
    got = seen(
        alice.post(
            base + "echo?x=1",
            content=b"payload",
            headers={
                "Origin": nb_origin(portal.url, fake.session_id),
                "X-CSRF-Token": "portal-token",
                "Connection": "keep-alive, X-Drop-Me",
                "X-Drop-Me": "1",
                "X-Onestop-Notebook-Secret": "forged",
                "X-Forwarded-For": "10.0.0.1",
            },
        )
    )
    assert got.status_code == 200
    record = got.json()
    headers: dict[str, list[str]] = {}
    for key, value in record["headers"]:
        headers.setdefault(key, []).append(value)
    assert headers["x-onestop-notebook-secret"] == [fake.secret], "one secret, the stored one"
    assert headers["host"] == [host], "the session's own host, as the browser named it"
    assert record["path"] == f"{fake.base}echo?x=1" and record["body"] == "payload"
    sent_cookies = headers["cookie"][0]
    assert "onestop" not in sent_cookies and "theme=light" in sent_cookies, sent_cookies
    for gone in ("x-csrf-token", "x-drop-me", "x-forwarded-for"):
        assert gone not in headers, gone
    planted = seen(alice.get(base + "cookies"))
    assert planted.status_code == 200
    set_cookies = planted.headers.get_list("set-cookie")
    if proxy_path == "nginx":
        assert all(f"Path={fake.base}" in cookie for cookie in set_cookies), set_cookies
        set_cookies = [cookie for cookie in set_cookies if cookie.startswith("theme=")]
        assert "Domain=;" in set_cookies[0], "an empty Domain: a host-only cookie"
        set_cookies[0] = set_cookies[0].replace(" Domain=;", "")
    assert len(set_cookies) == 1 and set_cookies[0].startswith("theme=dark")
    assert f"Path={fake.base}" in set_cookies[0] and "Domain" not in set_cookies[0]
    away = seen(alice.get(base + "redirect-out"))
    if proxy_path == "nginx":
        assert away.status_code == 302 and away.headers["location"] == "/_onestop/outside"
        assert (
            seen(
                alice.get(nb_origin(portal.url, fake.session_id) + "/_onestop/outside")
            ).status_code
            == 404
        )
    else:
        assert away.status_code == 502
    assert "elsewhere.example" not in away.headers.get("location", "")
    inside = seen(alice.get(base + "x/redirect-in"))
    assert inside.status_code == 302 and inside.headers["location"] == f"{fake.base}x/landing?a=1"


def test_no_request_reaches_another_upstream(
    portal: Portal,
    alice: httpx.Client,
    alice_nb: Jupyter,
    bob_nb: Jupyter,
    recorder: ThreadingHTTPServer,
) -> None:
    """Dot segments (plain or encoded), an encoded id, another Host, an absolute URL
    in the request line, her pass on another session's host: the recorder (another
    server) is never reached, nor bob's server."""
    Recorder.hits.clear()
    other = f"127.0.0.1:{recorder.server_address[1]}"
    origin = nb_origin(portal.url, alice_nb.session_id)
    tricks = [
        f"{alice_nb.base}..%2f..%2fapi/status",
        f"{alice_nb.base}..%2F..%2F{secrets.token_hex(8)}/api/status",
        f"{alice_nb.base}%2e%2e/%2e%2e/api/status",
        f"/notebooks/%3{alice_nb.session_id[0]}{alice_nb.session_id[1:]}/api/status",
    ]
    for path in tricks[:3]:
        response = seen(alice.get(origin + path))
        assert response.status_code == 400, (path, response.status_code)
        assert "cannot be passed to a notebook server" in response.text
    # An encoded digit is the same id to the router but not as sent: refused; an
    # encoded letter makes another path, which nothing serves.
    assert seen(alice.get(origin + tricks[3])).status_code in (400, 404)
    # Another Host is another origin: the portal's, which serves no Jupyter.
    with_host = seen(alice.get(f"{origin}{alice_nb.base}api/status", headers={"Host": other}))
    assert with_host.status_code == 303 and not with_host.text.startswith("{")
    # Her pass, sent to bob's session's host (a browser never would): refused there.
    pass_header = cookie_header(alice, portal, alice_nb)
    on_bob = seen(alice.get(at(portal, bob_nb, "api/status"), headers={"Cookie": pass_header}))
    assert on_bob.status_code == 403 and "not yours" in on_bob.text
    port = int(portal.url.rsplit(":", 1)[1])
    for host, expected in (
        (other, b"HTTP/1.1 303"),
        (nb_host(portal.url, alice_nb.session_id), b"started"),
    ):
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(
                f"GET http://{other}{alice_nb.base}api/status HTTP/1.1\r\nHost: {host}\r\n"
                f"Cookie: {pass_header}\r\nConnection: close\r\n\r\n".encode()
            )
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
        # The Host header decides the origin; the request line names no upstream.
        assert expected in answer, answer[:300]
    assert Recorder.hits == [], Recorder.hits


def test_the_probe_knows_her_server_and_nothing_else(alice_nb: Jupyter, bob_nb: Jupyter) -> None:
    import asyncio

    async def checks() -> list[bool]:
        return [
            await probe(alice_nb.host, alice_nb.port, alice_nb.session_id, alice_nb.secret),
            # Bob's secret (a server.json of his pointing at her port) is refused...
            await probe(alice_nb.host, alice_nb.port, alice_nb.session_id, bob_nb.secret),
            # ...and so is her secret under another session's address or at his port.
            await probe(alice_nb.host, alice_nb.port, bob_nb.session_id, alice_nb.secret),
            await probe(bob_nb.host, bob_nb.port, alice_nb.session_id, alice_nb.secret),
            await probe("127.0.0.1", 1, alice_nb.session_id, alice_nb.secret),
        ]

    assert asyncio.run(checks()) == [True, False, False, False, False]


def test_signing_out_closes_the_notebook_at_once(
    portal: Portal, alice_nb: Jupyter, proxy_path: str
) -> None:
    """The proxy may use a portal-session read of the last second, but a sign-out
    through the portal is seen by the very next request on the notebook's origin,
    and her open sockets close within seconds.

    Through nginx, which keeps the portal's yes for a pass for AUTH_CACHE_SECONDS,
    a sign-out is seen within those seconds; a socket nginx carries is closed by
    Jupyter itself when the portal's sweep names its pass (proxy/sweep.py)."""
    with signed_in_browser(portal.url, "alice") as client:
        assert seen(connect_session(client, portal.url, alice_nb.session_id)[0]).status_code == 200
        for _ in range(3):  # now a recent read is kept
            assert seen(client.get(at(portal, alice_nb, "api/status"))).status_code == 200
        with open_nb_ws(portal, client, alice_nb, "api/events/subscribe") as events:
            page = client.get(portal.url + "/")
            token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
            signed_out = client.post(portal.url + "/logout", headers={"X-CSRF-Token": token})
            assert signed_out.status_code == 303
            after = seen(client.get(at(portal, alice_nb, "api/status")))
            if proxy_path == "nginx":  # within nginx's AUTH_CACHE_SECONDS

                def refused() -> httpx.Response | None:
                    response = seen(client.get(at(portal, alice_nb, "api/status")))
                    return response if response.status_code == 303 else None

                after = wait_until(refused, AUTH_CACHE_SECONDS + 1, 0.2) or after
            # Refused, and sent to connect again: the portal then asks for a sign-in.
            assert after.status_code == 303 and "started" not in after.text
            assert after.headers["location"].startswith("/_onestop/connect?")
            _, visited = follow(client, at(portal, alice_nb, "api/status"))
            assert signs_in(portal, visited), visited
            closed_by = time.monotonic() + 5
            with pytest.raises(ConnectionClosed):
                while True:  # Jupyter's own events may come first; swept every second
                    events.recv(timeout=max(0.1, closed_by - time.monotonic()))
            assert events.close_code == 4401


def test_signing_out_in_one_browser_leaves_her_other_browser_connected(
    portal: Portal, alice_nb: Jupyter
) -> None:
    """Only the sockets of the pass whose portal session ended close: her other
    browser, still signed in, keeps its socket; and no browser can ask Jupyter to
    close sockets itself (the proxy drops the control header on the way up)."""
    with (
        signed_in_browser(portal.url, "alice") as leaving,
        signed_in_browser(portal.url, "alice") as staying,
    ):
        for client in (leaving, staying):
            connected = connect_session(client, portal.url, alice_nb.session_id)[0]
            assert seen(connected).status_code == 200
        forged = seen(
            staying.post(
                at(portal, alice_nb, "onestop/close"),
                json={"passes": []},
                headers={
                    **xsrf_headers(staying, portal, alice_nb),
                    "X-Onestop-Control": "a guess",
                },
            )
        )
        assert forged.status_code == 403
        with (
            open_nb_ws(portal, leaving, alice_nb, "api/events/subscribe") as gone,
            open_nb_ws(portal, staying, alice_nb, "api/events/subscribe") as kept,
        ):
            page = leaving.get(portal.url + "/")
            token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
            assert (
                leaving.post(portal.url + "/logout", headers={"X-CSRF-Token": token}).status_code
                == 303
            )
            closed_by = time.monotonic() + 5
            with pytest.raises(ConnectionClosed):
                while True:
                    gone.recv(timeout=max(0.1, closed_by - time.monotonic()))
            assert gone.close_code == 4401
            # Three more sweeps: the other socket is still open, and still answers.
            with contextlib.suppress(TimeoutError):
                while True:
                    kept.recv(timeout=3)
            kept.ping().wait(timeout=5)
            assert seen(staying.get(at(portal, alice_nb, "api/status"))).status_code == 200


def test_a_session_that_is_not_ready_or_has_ended_says_so(
    portal: Portal, alice: httpx.Client, alice_nb: Jupyter, recorder: ThreadingHTTPServer
) -> None:
    """Stand-in sessions (no job, so the monitor leaves them alone), one per state,
    entered while ready and then moved to the state."""
    expected = {"queued": 503, "starting": 503, "ended": 410, "ready": 200, "unknown": 200}
    for state, status in expected.items():
        fake = stand_in(recorder, alice_nb)
        register(portal.database_url, fake)
        assert seen(connect_session(alice, portal.url, fake.session_id)[0]).status_code == 200
        register(portal.database_url, fake, state=state)

        def answered(fake: Jupyter = fake, status: int = status) -> httpx.Response | None:
            # The proxy's read of the session may be a second old.
            response = seen(alice.get(at(portal, fake, "lab")))
            return response if response.status_code == status else None

        response = wait_until(answered, 5, 0.3)
        if state in ("queued", "starting"):
            assert "not ready yet" in response.text
            assert f"/notebooks/sessions/{fake.session_id}" in response.text
        elif state == "ended":
            assert "has ended" in response.text


def test_the_secrets_never_reach_a_browser_or_a_log(
    portal: Portal,
    alice: httpx.Client,
    bob: httpx.Client,
    erin: httpx.Client,
    alice_nb: Jupyter,
    bob_nb: Jupyter,
) -> None:
    assert len(SEEN) > 20, "the other tests ran first and recorded what came back"
    cookies = [
        f"{cookie.name}={cookie.value}"
        for client in (alice, bob, erin)
        for cookie in client.cookies.jar
    ]
    engine = create_engine(portal.database_url)
    with engine.connect() as db:
        audit = [repr(tuple(row)) for row in db.execute(text("SELECT * FROM audit_events"))]
    engine.dispose()
    assert any("notebooks.connect" in row for row in audit), "refusals were audited"
    everything = "\n".join([*SEEN, *cookies, *audit, portal.log_text()])
    for secret in (alice_nb.secret, bob_nb.secret):
        assert secret not in everything
