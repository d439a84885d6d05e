"""What crosses the proxy in each direction, as pure functions of header lists.

Upstream, Jupyter gets the browser's end-to-end headers minus anything of the
portal's or of the notebook origin's own (their cookies, a CSRF token, any copy of
the secret header the browser tried to send), with the session's origin as Host and
the session's secret added. Downstream, the browser gets Jupyter's end-to-end
headers, with redirects kept inside the session's own address space (on its own
origin) and no cookie that could overwrite the origin's pass or the portal's.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

__all__ = [
    "PASS_HEADER",
    "SECRET_HEADER",
    "confined_cookie",
    "downstream_headers",
    "inside_session",
    "is_portal_cookie",
    "upstream_headers",
]

SECRET_HEADER = "x-onestop-notebook-secret"  # noqa: S105 - the header's name
"""Carries the session's secret to Jupyter (scripts/onestop_jupyter.py reads it)."""
PASS_HEADER = "x-onestop-pass"  # noqa: S105 - the header's name
"""Names the browser's pass (its tag, never the pass) for Jupyter, which closes the
sockets opened with it when the portal says its portal session ended."""
OURS = "x-onestop-"
"""Every header so named is the proxy's to set: a browser's copy never goes up."""

# RFC 9110 7.6.1; also the WebSocket handshake's own headers, which aiohttp makes
# afresh for the upstream connection.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-accept",
        "sec-websocket-protocol",
    }
)
# The ASGI server writes its own Date and Server; the secret never comes back down.
ANSWERED_BY_PORTAL = frozenset({"date", "server", SECRET_HEADER})
# The portal's own request headers: never Jupyter's business.
# (Expect: the body is streamed up as it comes; no 100-continue round trip upstream.)
PORTAL_ONLY = frozenset({"host", "cookie", "x-csrf-token", SECRET_HEADER, "forwarded", "expect"})


def _hop_by_hop(connection: Iterable[str]) -> frozenset[str]:
    """The fixed list plus whatever the Connection header(s) name."""
    named = {token.strip().lower() for value in connection for token in value.split(",") if token}
    return HOP_BY_HOP | named if named else HOP_BY_HOP


def _cookies_without(raw: str, portal_cookies: frozenset[str]) -> str:
    """The Cookie header minus the portal's cookies, split leniently by hand (a
    malformed cookie of another site must not drop the rest)."""
    kept = []
    for part in raw.split(";"):
        name = part.split("=", 1)[0].strip()
        if name and not is_portal_cookie(name, portal_cookies):
            kept.append(part.strip())
    return "; ".join(kept)


def upstream_headers(
    headers: Iterable[tuple[bytes, bytes]],
    *,
    host: str,
    secret: str,
    pass_tag: str,
    portal_cookies: frozenset[str],
) -> list[tuple[str, str]]:
    """Headers for Jupyter: end-to-end ones from the browser, ``host`` (the session's
    origin as the browser names it, which Jupyter compares the Origin with), the
    secret and the tag of her pass."""
    decoded = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in headers]
    drop = _hop_by_hop(value for name, value in decoded if name == "connection") | PORTAL_ONLY
    result: list[tuple[str, str]] = []
    cookies: list[str] = []
    for name, value in decoded:
        if name == "cookie":
            cookies.append(value)
        elif name not in drop and not name.startswith(("x-forwarded-", OURS)):
            result.append((name, value))
    kept = _cookies_without("; ".join(cookies), portal_cookies)
    if kept:
        result.append(("cookie", kept))
    result.append(("host", host))
    result.append((SECRET_HEADER, secret))
    result.append((PASS_HEADER, pass_tag))
    return result


def inside_session(location: str, request_path: str, prefix: str) -> str | None:
    """``location`` as a path inside ``prefix`` (``/notebooks/<id>/``), or None.

    Jupyter redirects with paths (``/notebooks/<id>/lab``); an absolute URL is cut
    down to its path, since the browser must stay on the session's own origin, and
    one that leads out of the session (its login page of another base, another site)
    is refused.
    """
    parts = urlsplit(urljoin(request_path, location))
    path = parts.path
    segments = path.split("/")
    if ".." in segments or "." in segments or "\\" in path:
        return None
    if not (path.startswith(prefix) or path == prefix.rstrip("/")):
        return None
    return (
        path
        + (f"?{parts.query}" if parts.query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def is_portal_cookie(name: str, portal_cookies: frozenset[str]) -> bool:
    """The portal's cookies, and any bound to the whole origin by its name's prefix:
    the notebook origin's own pass and state cookies too (``onestop_nb*`` and
    ``__Host-onestop-nb*``, origins.py)."""
    return name in portal_cookies or name.startswith(("__Host-", "__Secure-", "onestop"))


def confined_cookie(set_cookie: str, prefix: str, portal_cookies: frozenset[str]) -> str | None:
    """A Set-Cookie of Jupyter's, kept to ``prefix``; None if it names a portal cookie.

    The name and value pass untouched (Jupyter reads its ``_xsrf`` back byte for
    byte); a Domain attribute goes and a Path outside the session becomes the
    session's, so one notebook server can plant nothing on the portal's pages or on
    another session's.
    """
    first, _, rest = set_cookie.partition(";")
    name = first.split("=", 1)[0].strip()
    if not name or "=" not in first or is_portal_cookie(name, portal_cookies):
        return None
    attributes = [first.strip()]
    path = ""
    for attribute in rest.split(";"):
        key, _, value = attribute.strip().partition("=")
        lowered = key.strip().lower()
        if lowered == "path":
            path = value.strip()
        elif lowered and lowered != "domain":
            attributes.append(attribute.strip())
    if not path.startswith(prefix) or ".." in path.split("/"):
        path = prefix
    attributes.append(f"Path={path}")
    return "; ".join(attributes)


def downstream_headers(
    headers: Iterable[tuple[str, str]],
    *,
    request_path: str,
    prefix: str,
    portal_cookies: frozenset[str],
) -> list[tuple[bytes, bytes]] | None:
    """Jupyter's headers for the browser; None when a redirect would leave the session.

    Hop-by-hop headers go (the ASGI server frames the body itself). A Set-Cookie
    naming one of the portal's cookies is dropped, so a notebook server can never
    overwrite the portal's session or CSRF cookie.
    """
    result: list[tuple[bytes, bytes]] = []
    lowered_headers = [(name.lower(), value) for name, value in headers]
    drop = (
        _hop_by_hop(value for name, value in lowered_headers if name == "connection")
        | ANSWERED_BY_PORTAL
    )
    for lowered, value in lowered_headers:
        if lowered in drop:
            continue
        if lowered == "location":
            inside = inside_session(value, request_path, prefix)
            if inside is None:
                return None
            value = inside
        elif lowered == "set-cookie":
            confined = confined_cookie(value, prefix, portal_cookies)
            if confined is None:
                continue
            value = confined
        result.append((lowered.encode("latin-1"), value.encode("latin-1")))
    return result
