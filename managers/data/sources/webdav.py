"""WebDAV (ownCloud, Nextcloud, any mod_dav) through webdav4's fsspec file system.

Two ways in: a server's WebDAV address with her user name and an app password, or
a public share link (``https://cloud.example.edu/s/<token>``), which ownCloud and
Nextcloud serve at ``/public.php/webdav`` with the token as the user name (and the
share's password, if it has one). WebDAV offers no checksum that every server
gives, so files get a size check.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from webdav4.fsspec import WebdavFileSystem

from managers.data.context import TransferError, Work
from managers.data.guard import Guard
from managers.data.sources import tree
from managers.data.spec import NetworkRules, WebDavEndpoint

__all__ = ["browse", "fetch", "filesystem", "send", "share_url"]

SHARE = re.compile(r"^(?P<base>.*?)/(?:index\.php/)?s/(?P<token>[A-Za-z0-9]+)/?$")


def share_url(url: str) -> tuple[str, str | None]:
    """(WebDAV address, the share token as user name or None) for a URL she pasted."""
    parts = urlsplit(url.strip())
    found = SHARE.match(parts.path)
    if found is None:
        return url.strip(), None
    path = f"{found['base']}/public.php/webdav"
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")), found["token"]


def filesystem(endpoint: WebDavEndpoint, guard: Guard, rules: NetworkRules) -> WebdavFileSystem:
    import ssl

    base, token = share_url(endpoint.url)
    parts = guard.check_url(base, ("http", "https"))
    guard.resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    password = endpoint.password.get_secret_value() if endpoint.password else ""
    user = token or endpoint.username
    auth = (user, password) if user else None
    context = ssl.create_default_context()
    if rules.ca_file:
        context.load_verify_locations(rules.ca_file)
    return WebdavFileSystem(
        base, auth=auth, verify=context, trust_env=False, timeout=60, follow_redirects=False
    )


def _path(endpoint: WebDavEndpoint, path: str | None = None) -> str:
    return (endpoint.path if path is None else path).strip("/")


async def fetch(work: Work) -> None:
    endpoint = work.spec.source
    assert isinstance(endpoint, WebDavEndpoint)
    fs = await asyncio.to_thread(filesystem, endpoint, work.guard, work.spec.network)
    root = _path(endpoint)
    host = urlsplit(endpoint.url).hostname or "webdav"
    top = root.rpartition("/")[2] or host
    await asyncio.to_thread(tree.import_tree, work, fs, root, top, lambda _info: None, None)


async def send(work: Work) -> None:
    endpoint = work.spec.source
    assert isinstance(endpoint, WebDavEndpoint)
    fs = await asyncio.to_thread(filesystem, endpoint, work.guard, work.spec.network)

    def arrived(remote: str, digest: str | None, size: int) -> str:
        if int(fs.info(remote).get("size") or 0) != size:
            raise TransferError("network", f"{remote} arrived with the wrong size.")
        return "size"

    await asyncio.to_thread(tree.export_tree, work, fs, _path(endpoint), arrived, None, True)


async def browse(request: dict[str, Any], guard: Guard) -> dict[str, Any]:
    endpoint = WebDavEndpoint.model_validate(request["endpoint"])
    rules = NetworkRules.model_validate(request.get("network") or {})
    fs = await asyncio.to_thread(filesystem, endpoint, guard, rules)
    path = _path(endpoint, str(request.get("path") or endpoint.path))
    return {"entries": await asyncio.to_thread(tree.listing, fs, path)}
