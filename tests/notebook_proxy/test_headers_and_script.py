"""What the proxy passes each way, and the session's batch script, without a server."""

from __future__ import annotations

import re
import subprocess

import pytest

from managers.notebooks.launch import batch_script
from wrappers.notebooks.proxy.headers import (
    confined_cookie,
    downstream_headers,
    inside_session,
    upstream_headers,
)

PREFIX = "/notebooks/0123456789abcdef/"
PORTAL = frozenset({"onestop_session"})


def test_upstream_gets_the_secret_and_the_portal_host_and_nothing_of_the_portal() -> None:
    sent = [
        (b"host", b"evil.example"),
        (b"cookie", b"onestop_session=abc; _xsrf=tok; __Host-onestop=x; theme=dark"),
        (b"cookie", b"second=1"),
        (b"x-csrf-token", b"portal"),
        (b"x-onestop-notebook-secret", b"forged"),
        (b"x-onestop-pass", b"another-pass"),
        (b"x-onestop-control", b"forged"),
        (b"connection", b"keep-alive, x-private"),
        (b"x-private", b"1"),
        (b"x-forwarded-host", b"evil.example"),
        (b"expect", b"100-continue"),
        (b"accept", b"application/json"),
    ]
    headers = upstream_headers(
        sent, host="portal.example:443", secret="s3cret", pass_tag="tag", portal_cookies=PORTAL
    )
    assert headers == [
        ("accept", "application/json"),
        ("cookie", "_xsrf=tok; theme=dark; second=1"),
        ("host", "portal.example:443"),
        ("x-onestop-notebook-secret", "s3cret"),
        ("x-onestop-pass", "tag"),
    ]


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/notebooks/0123456789abcdef/lab", "/notebooks/0123456789abcdef/lab"),
        ("lab?x=1", f"{PREFIX}lab/tree/lab?x=1"),
        ("http://10.1.2.3:8888/notebooks/0123456789abcdef/tree#top", f"{PREFIX}tree#top"),
        ("/notebooks/0123456789abcdef", "/notebooks/0123456789abcdef"),
        ("/notebooks/fedcba9876543210/lab", None),
        ("/login?next=/", None),
        ("https://elsewhere.example/notebooks/0123456789abcdef/", f"{PREFIX}"),
        ("/notebooks/0123456789abcdef/../fedcba9876543210/", None),
        ("//elsewhere.example/x", None),
    ],
)
def test_redirects_stay_inside_the_session(location: str, expected: str | None) -> None:
    assert inside_session(location, f"{PREFIX}lab/tree/", PREFIX) == expected


def test_cookies_from_jupyter_stay_in_their_session() -> None:
    assert confined_cookie("_xsrf=2|ab|cd|12; Path=" + PREFIX, PREFIX, PORTAL) == (
        "_xsrf=2|ab|cd|12; Path=" + PREFIX
    )
    assert confined_cookie("a=b; Path=/; Domain=example.edu; HttpOnly", PREFIX, PORTAL) == (
        f"a=b; HttpOnly; Path={PREFIX}"
    )
    assert confined_cookie(f"a=b; Path={PREFIX}../", PREFIX, PORTAL) == f"a=b; Path={PREFIX}"
    for portal_cookie in ("onestop_session=x", "__Host-onestop=x; Secure", "__Secure-y=1"):
        assert confined_cookie(portal_cookie, PREFIX, PORTAL) is None


def test_downstream_drops_hop_by_hop_and_refuses_a_way_out() -> None:
    answer = [
        ("Content-Type", "text/html"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "close, X-Hop"),
        ("X-Hop", "1"),
        ("Date", "yesterday"),
        ("Server", "TornadoServer/6.6.1"),
        ("Location", "/notebooks/0123456789abcdef/lab"),
    ]
    headers = downstream_headers(answer, request_path=PREFIX, prefix=PREFIX, portal_cookies=PORTAL)
    assert headers == [
        (b"content-type", b"text/html"),
        (b"location", b"/notebooks/0123456789abcdef/lab"),
    ]
    away = [("Location", "https://elsewhere.example/")]
    assert (
        downstream_headers(away, request_path=PREFIX, prefix=PREFIX, portal_cookies=PORTAL) is None
    )


def test_the_batch_script_quotes_everything_and_asks_slurm_for_nothing() -> None:
    folder = "/home/alice/it's $(rm -rf ~) `x`"
    script = batch_script(
        "0123456789abcdef",
        "/home/alice/.onestop/notebooks/0123456789abcdef",
        "lab",
        folder,
        "/opt/j",
    )
    assert script.startswith("#!/bin/bash\n")
    assert not re.search(r"^#SBATCH", script, re.M), "resources go through sbatch arguments"
    assert "--ServerApp.base_url=/notebooks/0123456789abcdef/" in script
    assert "--ServerApp.port=0" in script and "--ServerApp.port_retries=0" in script
    assert "--SecretHeaderIdentityProvider.secret_file=" in script
    assert "token" not in script.lower().replace("check_for_updates", "")
    # bash reads the folder back exactly, without running any of it.
    assigned = re.search(r"^folder=(.*)$", script, re.M)
    assert assigned is not None
    echoed = subprocess.run(
        ["bash", "-c", f'folder={assigned.group(1)}; printf %s "$folder"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert echoed == folder
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


@pytest.mark.parametrize(
    ("session_id", "interface", "env"),
    [
        ("0123", "lab", "/opt/j"),
        ("0123456789abcdef", "shell", "/opt/j"),
        ("0123456789abcdef", "lab", "rel"),
    ],
)
def test_the_batch_script_refuses_what_the_portal_never_makes(
    session_id: str, interface: str, env: str
) -> None:
    with pytest.raises(ValueError):
        batch_script(session_id, "/home/a/s", interface, "/home/a", env)  # type: ignore[arg-type]
