"""Both paths to a notebook: the portal's own proxy, and nginx with ``auth_request``.

``portal`` here is parametrized over the two (``proxy_path``): ``python`` is the test
session's portal, whose own proxy carries notebook traffic; ``nginx`` is a portal
behind a real nginx (Debian's, on a loopback port with a generated configuration in a
temporary folder, never the system service), as in production: nginx answers at the
portal's public address for the portal and for every ``*.nb.localhost`` host, forwards
notebook requests straight to the session's Jupyter server after asking the portal
(``/_onestop/auth``), and sends connecting and refusals to the portal's proxy. Its
notebook server block is the one the README shows (``wrappers/notebooks/nginx``).

A test module opts in by naming both in its own namespace (``portal =
notebook_paths.portal``, ``proxy_path = notebook_paths.proxy_path``), and asks
``proxy_path`` where a path does what the other cannot.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_PORT, Portal, running_portal
from tests.notebook_origin import NOTEBOOK_DOMAIN
from wrappers.notebooks.nginx import render

__all__ = ["AUTH_CACHE_SECONDS", "PATHS", "nginx_in_front", "portal", "proxy_path"]

PATHS = ("python", "nginx")
# How long nginx keeps the portal's yes for one pass and one kind of request.
AUTH_CACHE_SECONDS = 2
# The nginx path's portal is a second portal: TEST_PORT + 10, the port such a test uses.
NGINX_PORT = TEST_PORT + 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(workdir: Path, port: int, portal: str, key: str, host: str = "") -> str:
    notebooks = render(
        domain="" if host else NOTEBOOK_DOMAIN,
        host=host,
        portal=portal,
        auth_key=key,
        listen=f"127.0.0.1:{port}",
        cache_path=str(workdir / "auth-cache"),
        cache_seconds=AUTH_CACHE_SECONDS,
    )
    (workdir / "notebooks.conf").write_text(notebooks)
    temp = {
        name: workdir / f"temp-{name}" for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")
    }
    return f"""
worker_processes 1;
user root;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}

    # The portal itself (README: "TLS behind nginx", without TLS on loopback).
    server {{
        listen 127.0.0.1:{port} default_server;
        client_max_body_size 0;
        proxy_request_buffering off;
        proxy_buffering off;
        location / {{
            proxy_pass http://{portal};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Onestop-Auth-Key "";
            proxy_read_timeout 1h;
        }}
    }}

    include {workdir}/notebooks.conf;
}}
"""


@contextlib.contextmanager
def nginx_in_front(
    workdir: Path, port: int, portal: str, key: str, notebook_host: str = ""
) -> Iterator[Path]:
    """nginx on ``127.0.0.1:port`` for the portal at ``portal`` (host:port) and its
    notebook origins (each session's host, or the one ``notebook_host``); stopped
    (and waited for) on exit. Yields its folder."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "nginx.conf"
    config.write_text(_config(workdir, port, portal, key, notebook_host))
    tested = subprocess.run(
        ["nginx", "-t", "-q", "-c", str(config), "-p", str(workdir)],
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stderr
    process = subprocess.Popen(
        ["nginx", "-c", str(config), "-p", str(workdir), "-g", "daemon off;"],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, (workdir / "error.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)
        yield workdir
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def portal_behind_nginx(
    workdir: Path, port: int = NGINX_PORT, **extra_env: str
) -> Iterator[Portal]:
    """A portal whose public address (``http://127.0.0.1:<port>``) is nginx's, the
    portal itself on another loopback port, sharing an auth_request key with nginx
    (and, with ``ONESTOP_NOTEBOOKS__HOST``, its one notebook host)."""
    key = secrets.token_urlsafe(32)
    own = free_port()
    host = extra_env.get("ONESTOP_NOTEBOOKS__HOST", "")
    with (
        nginx_in_front(workdir / "nginx", port, f"127.0.0.1:{own}", key, host),
        running_portal(
            workdir,
            port,
            ONESTOP_BIND_PORT=str(own),
            ONESTOP_NOTEBOOKS__AUTH_REQUEST_KEY=key,
            **extra_env,
        ) as portal,
    ):
        yield portal


@pytest.fixture(scope="module", params=PATHS)
def proxy_path(request: pytest.FixtureRequest) -> str:
    """``python`` (the portal's own proxy) or ``nginx`` (auth_request, then straight on)."""
    path: str = request.param
    return path


@pytest.fixture(scope="module")
def portal(
    portal: Portal, proxy_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    """The portal the browser talks to, over ``proxy_path`` (the test session's own for
    ``python``; the session's portal also means the cluster and sign-in are up)."""
    if proxy_path == "python":
        yield portal
        return
    with portal_behind_nginx(tmp_path_factory.mktemp("behind-nginx")) as started:
        yield started
