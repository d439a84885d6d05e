"""The nginx server block for notebook origins (``wrappers.notebooks.nginx``): what
the README shows for production is a configuration nginx accepts, with the key only
where nginx asks its question, and nothing that is not a plain value gets in."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from wrappers.notebooks.nginx import render

KEY = "k" * 32
PRODUCTION = {
    "domain": "notebooks.example.edu",
    "portal": "127.0.0.1:8000",
    "auth_key": KEY,
    "certificate": "/etc/ssl/certs/wildcard.pem",
    "certificate_key": "/etc/ssl/private/wildcard.key",
}


def test_the_production_block_sends_the_key_only_with_its_question(tmp_path: Path) -> None:
    text = render(
        domain=PRODUCTION["domain"],
        portal=PRODUCTION["portal"],
        auth_key=KEY,
        certificate=PRODUCTION["certificate"],
        certificate_key=PRODUCTION["certificate_key"],
        cache_path=str(tmp_path / "cache"),
    )
    # The key goes to the portal on its internal question, and with the refusals
    # nginx hands on after asking (so the portal audits each once); the way a
    # browser reaches the portal directly clears the header it might send.
    assert text.count(KEY) == 2
    question = text.split("location = /_onestop/auth {", 1)[1].split("}", 1)[0]
    assert "internal;" in question and KEY in question
    refused = text.split("location @onestop_refused {", 1)[1].split("}", 1)[0]
    assert KEY in refused
    assert text.count('proxy_set_header X-Onestop-Auth-Key "";') == 1
    direct = text.split("location /_onestop/ {", 1)[1].split("}", 1)[0]
    assert 'X-Onestop-Auth-Key "";' in direct
    assert r"notebooks\.example\.edu$" in text
    assert "ssl_certificate     /etc/ssl/certs/wildcard.pem;" in text
    # nginx itself accepts it (the certificate is not read by -t without TLS listen).
    plain = render(
        domain="notebooks.example.edu",
        portal="127.0.0.1:8000",
        auth_key=KEY,
        listen="127.0.0.1:1",
        cache_path=str(tmp_path / "cache"),
    )
    (tmp_path / "notebooks.conf").write_text(plain)
    temps = " ".join(
        f"{name}_temp_path {tmp_path}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{ {temps} include {tmp_path}/notebooks.conf; }}\n"
    )
    tested = subprocess.run(
        ["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert tested.returncode == 0, tested.stderr


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domain", "notebooks.example.edu; include /etc/passwd"),
        ("domain", "*.notebooks.example.edu"),
        ("portal", "127.0.0.1:8000; return 200"),
        ("auth_key", "short"),
        ("auth_key", "k" * 20 + '"; return 200; "'),
        ("certificate", "/etc/ssl/a.pem; include x"),
    ],
)
def test_nothing_but_plain_values_get_in(field: str, value: str) -> None:
    with pytest.raises(ValueError):
        asked = {**PRODUCTION, field: value}
        render(
            domain=asked["domain"],
            portal=asked["portal"],
            auth_key=asked["auth_key"],
            certificate=asked["certificate"],
            certificate_key=asked["certificate_key"],
        )


def test_the_one_host_block_names_that_host_and_reads_the_session_from_the_path() -> None:
    """For ``notebooks.host`` the block serves that one name and takes the session
    from ``/notebooks/<id>/`` (the cookie paths need it); one of the two, never both."""
    text = render(host="nb.example.edu", portal="127.0.0.1:8000", auth_key=KEY)
    assert "server_name nb.example.edu;" in text
    assert '"~^/notebooks/([0-9a-f]{16})/" $1;' in text
    for wrong in (
        {"domain": "notebooks.example.edu", "host": "nb.example.edu"},
        {},
        {"host": "nb.example.edu; return 200"},
    ):
        with pytest.raises(ValueError):
            render(portal="127.0.0.1:8000", auth_key=KEY, **wrong)
