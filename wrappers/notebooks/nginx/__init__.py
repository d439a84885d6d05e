"""nginx's server block for notebook origins, the fast path (``notebooks.conf``).

nginx serves every ``<session id>.<notebooks.domain>`` host (or, for a site without
wildcard names, the one ``notebooks.host`` with each session under
``/notebooks/<id>/``) and forwards straight to the session's Jupyter server, after
asking the portal (``auth_request`` to ``/_onestop/auth``, ``proxy/decide.py``)
whether this request may pass and where it goes. Connecting and refusals go to the
portal's own proxy, which decides the same way and answers in words. ``render``
fills the template; the README shows it for production and the tests render the same
file for loopback.

    python -m wrappers.notebooks.nginx --domain notebooks.example.edu \
        --portal 127.0.0.1:8000 --key-file /etc/onestop/nginx-auth-key \
        --certificate /etc/ssl/certs/wildcard.pem --certificate-key /etc/ssl/private/wildcard.key
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["TEMPLATE", "render"]

TEMPLATE = Path(__file__).with_name("notebooks.conf")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_ADDRESS = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$|^unix:/[^;\s{}\"]+:?$")
_HOST = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_SAFE = re.compile(r"^[^;\s{}\"'\\$]+$")


_SESSION_FROM_PATH = """# On the one notebook host, the session is the one the path names.
map $uri $onestop_nb_session {
    "~^/notebooks/([0-9a-f]{16})/" $1;
    default "";
}

"""


def _server_name(domain: str) -> str:
    escaped = re.escape(domain).replace("\\-", "-")
    return f'"~^(?<onestop_nb_session>[0-9a-f]{{16}})\\.{escaped}$"'


def render(
    *,
    domain: str = "",
    host: str = "",
    portal: str,
    auth_key: str,
    listen: str = "443 ssl http2",
    certificate: str = "",
    certificate_key: str = "",
    cache_path: str = "/var/cache/nginx/onestop-notebooks",
    cache_seconds: int = 2,
) -> str:
    """The server block for ``domain``'s notebook hosts (or the one ``host``: exactly
    one of the two), forwarding to the portal at ``portal`` (``host:port``) for
    decisions, refusals and connecting.

    TLS when ``certificate`` is given (``listen`` then names ``ssl``). Raises
    ValueError for a value that is not what it should be (it would end up in nginx's
    configuration)."""
    if bool(domain) == bool(host):
        raise ValueError("give either the notebook domain or the one notebook host")
    name = domain or host
    if not _HOST.match(name):
        setting = "notebooks.domain" if domain else "notebooks.host"
        raise ValueError(f"{name!r} is not a DNS name ({setting})")
    if not _ADDRESS.match(portal):
        raise ValueError(f"portal {portal!r} is not host:port")
    if len(auth_key) < 16 or not _SAFE.match(auth_key):
        raise ValueError("the auth key must be 16 or more characters, no spaces or quotes")
    for name, value in (("listen", listen), ("cache path", cache_path)):
        if not re.match(r"^[^;{}\"'\\$]+$", value):
            raise ValueError(f"{name} {value!r} cannot go in nginx's configuration")
    if not 1 <= cache_seconds <= 10:
        raise ValueError("cache_seconds is a few seconds: 1 to 10")
    if bool(certificate) != bool(certificate_key):
        raise ValueError("TLS needs both the certificate and its key")
    tls = ""
    if certificate:
        for value in (certificate, certificate_key):
            if not _SAFE.match(value):
                raise ValueError(f"{value!r} cannot go in nginx's configuration")
        tls = f"ssl_certificate     {certificate};\n    ssl_certificate_key {certificate_key};"
    values = {
        "listen": f"listen {listen};",
        "server_name": _server_name(domain) if domain else host,
        # Which session a request is for: the host's first label, or on the one
        # host the path's (the same name either way, for the cookie paths below).
        "session_map": "" if domain else _SESSION_FROM_PATH,
        "tls": tls,
        "portal": portal,
        "auth_key": auth_key,
        "cache_path": cache_path,
        "cache_seconds": str(cache_seconds),
    }
    text = TEMPLATE.read_text()
    unknown = set(_PLACEHOLDER.findall(text)) - values.keys()
    assert not unknown, f"notebooks.conf names {unknown}, which render does not fill"
    return _PLACEHOLDER.sub(lambda found: values[found.group(1)], text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m wrappers.notebooks.nginx", description=__doc__.split("\n\n")[0]
    )
    names = parser.add_mutually_exclusive_group(required=True)
    names.add_argument("--domain", default="", help="notebooks.domain (one host per session)")
    names.add_argument("--host", default="", help="notebooks.host (one host for all)")
    parser.add_argument("--portal", default="127.0.0.1:8000", help="the portal's host:port")
    parser.add_argument(
        "--key-file", required=True, type=Path, help="holds notebooks.auth_request_key"
    )
    parser.add_argument("--certificate", default="")
    parser.add_argument("--certificate-key", default="")
    parser.add_argument("--listen", default="443 ssl http2")
    parser.add_argument("--cache-path", default="/var/cache/nginx/onestop-notebooks")
    parser.add_argument("--cache-seconds", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(
            render(
                domain=args.domain,
                host=args.host,
                portal=args.portal,
                auth_key=args.key_file.read_text().strip(),
                listen=args.listen,
                certificate=args.certificate,
                certificate_key=args.certificate_key,
                cache_path=args.cache_path,
                cache_seconds=args.cache_seconds,
            )
        )
    except (OSError, ValueError) as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
