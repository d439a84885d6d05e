"""S3-compatible object storage (AWS, Ceph, MinIO) through s3fs.

Public buckets are read unsigned (``anon``); otherwise her keys sign. A bucket has no
folders, only keys with slashes; a prefix ending at a slash is shown and moved as
one. A single-part object's ETag is the MD5 of its bytes, so those are checked; a
multipart one's is not (it ends in ``-<parts>``), and those get a size check only.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
from typing import Any

import s3fs

from managers.data.context import TransferError, Work
from managers.data.guard import Guard
from managers.data.sources import tree
from managers.data.spec import NetworkRules, S3Endpoint

__all__ = ["browse", "fetch", "filesystem", "send"]

READ_AHEAD = 64 << 20


def _md5_of(info: dict[str, Any]) -> tuple[str, str] | None:
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"').lower()
    if len(etag) == 32 and "-" not in etag and all(c in "0123456789abcdef" for c in etag):
        return "md5", etag
    return None


def filesystem(endpoint: S3Endpoint, guard: Guard, rules: NetworkRules) -> s3fs.S3FileSystem:
    """Her bucket's file system; the endpoint's address passes the guard first (the
    audit hook checks every connection s3fs makes anyway)."""
    if endpoint.endpoint_url:
        parts = guard.check_url(endpoint.endpoint_url, ("http", "https"))
        guard.resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    client: dict[str, Any] = {}
    if endpoint.region:
        client["region_name"] = endpoint.region
    if rules.ca_file:
        client["verify"] = rules.ca_file
    keys = endpoint.access_key is not None and endpoint.secret_key is not None
    return s3fs.S3FileSystem(
        anon=not keys,
        key=endpoint.access_key.get_secret_value() if endpoint.access_key else None,
        secret=endpoint.secret_key.get_secret_value() if endpoint.secret_key else None,
        endpoint_url=endpoint.endpoint_url or None,
        client_kwargs=client,
        use_listings_cache=False,
        skip_instance_cache=True,
        config_kwargs={"retries": {"max_attempts": 3}},
    )


def _root(endpoint: S3Endpoint, path: str | None = None) -> str:
    prefix = endpoint.prefix if path is None else path
    return f"{endpoint.bucket}/{prefix.lstrip('/')}".rstrip("/")


def _top(endpoint: S3Endpoint) -> str:
    prefix = endpoint.prefix.strip("/")
    return posixpath.basename(prefix) if prefix else endpoint.bucket


async def fetch(work: Work) -> None:
    endpoint = work.spec.source
    assert isinstance(endpoint, S3Endpoint)
    fs = await asyncio.to_thread(filesystem, endpoint, work.guard, work.spec.network)
    await asyncio.to_thread(
        tree.import_tree,
        work,
        fs,
        _root(endpoint),
        _top(endpoint),
        _md5_of,
        "md5",
        # Each fetch is one GET with a Range; 64 MiB ahead of every read keeps them few
        # (a server that slices every range out of the whole object, as moto does,
        # otherwise pays for each 4 MiB piece).
        cache_type="readahead",
        block_size=READ_AHEAD,
    )


async def send(work: Work) -> None:
    endpoint = work.spec.source
    assert isinstance(endpoint, S3Endpoint)
    fs = await asyncio.to_thread(filesystem, endpoint, work.guard, work.spec.network)

    def arrived(remote: str, digest: str | None, size: int) -> str:
        info = fs.info(remote)
        if int(info.get("size") or 0) != size:
            raise TransferError("network", f"{remote} arrived with the wrong size.")
        etag = _md5_of(info)
        if etag is not None and digest is not None:
            if etag[1] != digest:
                raise TransferError("failed", f"{remote} arrived, but its MD5 differs.")
            return "md5"
        return "size"

    await asyncio.to_thread(tree.export_tree, work, fs, _root(endpoint), arrived, "md5", False)


async def browse(request: dict[str, Any], guard: Guard) -> dict[str, Any]:
    endpoint = S3Endpoint.model_validate(request["endpoint"])
    rules = NetworkRules.model_validate(request.get("network") or {})
    fs = await asyncio.to_thread(filesystem, endpoint, guard, rules)
    path = str(request.get("path") or "")
    return {"entries": await asyncio.to_thread(tree.listing, fs, _root(endpoint, path))}


def md5_hex(data: bytes) -> str:
    """The ETag S3 gives a single-part object of ``data`` (for tests)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
