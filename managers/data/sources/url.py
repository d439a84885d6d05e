"""HTTP and HTTPS imports with aiohttp: one file per URL, into her folder.

Redirects are followed here, hop by hop, not by aiohttp, so every hop's scheme and
address pass the guard (a public server redirecting to 127.0.0.1 is refused at that
hop). A connection that drops mid-file is picked up where it stopped (Range, with
If-Range so a file that changed meanwhile starts over instead of being spliced).
Bodies are stored as sent (no automatic decompression): the bytes she gets are the
bytes the server has, which is what her SHA-256 describes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from managers.data import archives
from managers.data.context import TransferError, Work
from managers.data.guard import Guard
from managers.data.progress import Check, TransferState
from managers.data.sources import safe_name
from managers.data.spec import UrlEndpoint, UrlItem

__all__ = ["GuardedResolver", "browse", "fetch"]

CHUNK = 1 << 20
RETRIES = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses the guard allows: the address
    checked is the one connected to (the audit hook checks it once more)."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await asyncio.to_thread(self.guard.resolve, host, port)
        results: list[ResolveResult] = []
        for address in addresses:
            version = socket.AF_INET6 if ":" in address else socket.AF_INET
            results.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": version,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return results

    async def close(self) -> None:
        return None


def session_for(work: Work) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(work.guard), ssl=work.ssl_context(), limit=4
    )
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
    )


def _status_error(status: int, url: str) -> TransferError:
    shown = _shown(url)
    if status in (404, 410):
        return TransferError(
            "not_found", f"There is no file at {shown} (the server said {status})."
        )
    if status in (401, 403):
        return TransferError(
            "auth", f"The server at {shown} refused access (it said {status}): is it public?"
        )
    return TransferError("failed", f"The server at {shown} answered {status}.")


def _shown(url: str) -> str:
    """A URL for messages: no password, no query (a signed link's token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


async def _open(
    work: Work, session: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[aiohttp.ClientResponse, str]:
    """GET ``url`` following redirects hop by hop under the guard; the response and
    the URL that answered."""
    for _hop in range(work.spec.network.max_redirects + 1):
        work.guard.check_url(url)
        response = await session.get(url, headers=headers, allow_redirects=False)
        if response.status not in REDIRECTS:
            return response, url
        location = response.headers.get("Location")
        response.release()
        if not location:
            raise TransferError("failed", f"{_shown(url)} redirected to nowhere.")
        url = urljoin(url, location)
    raise TransferError(
        "network", f"{_shown(url)} redirected more than {work.spec.network.max_redirects} times."
    )


def _name_of(response: aiohttp.ClientResponse, url: str) -> str:
    disposition = response.content_disposition
    if disposition is not None and disposition.filename:
        return safe_name(os.path.basename(disposition.filename))
    return safe_name(unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2]))


async def _drain(response: Any, sink: Any, digest: Any) -> None:
    """The body into ``sink`` (and ``digest``), hashing and writing each piece in a
    worker thread while the next one is read: hashlib and file writes let go of the
    GIL, so on two cores the socket and the disk overlap instead of taking turns.
    One piece at a time is in flight, so they land in order; a write's error (a full
    disk, a cancel) comes out at the next await."""
    loop = asyncio.get_running_loop()

    def take(chunk: bytes) -> None:
        if digest is not None:
            digest.update(chunk)
        sink.write(chunk)

    pending: asyncio.Future[None] | None = None
    try:
        async for chunk in response.content.iter_chunked(CHUNK):
            if pending is not None:
                await pending
            pending = loop.run_in_executor(None, take, chunk)
    finally:
        if pending is not None:
            await pending


def _validator(response: aiohttp.ClientResponse) -> str | None:
    """What If-Range may name: a strong ETag, else Last-Modified."""
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


async def _one(work: Work, session: aiohttp.ClientSession, index: int, item: UrlItem) -> None:
    key = f"url:{index}"
    earlier = work.remembered(key)
    target = work.spec.local_path
    if isinstance(earlier, dict) and _still_there(target, earlier):
        # A retry: this one arrived and was checked in the run before.
        work.counted(int(earlier["size"]))
        work.finished(
            Check(path=earlier["name"], size=earlier["size"], method=earlier["method"], ok=True),
            earlier["name"],
        )
        return
    response, url = await _open(work, session, item.url, {})
    if response.status != 200:
        response.release()
        raise _status_error(response.status, url)
    name = _name_of(response, url)
    work.begin(name)
    length = response.content_length
    if length is not None:
        with work.lock:
            work.bytes_total = (work.bytes_total or 0) + length
    work.ensure_room(length, target)
    validator = _validator(response)
    digest = hashlib.sha256()
    # Hashed only when she gave a SHA-256 to compare with: at 1 GiB the hash alone
    # costs the single worker thread seconds that curl never spends.
    hashing = bool(item.sha256)
    with work.sink(target, f"url{index}") as sink:
        attempt = 0
        while True:
            try:
                await _drain(response, sink, digest if hashing else None)
                response.release()
                if length is None or sink.size >= length:
                    break
                raise aiohttp.ClientPayloadError("the connection ended early")
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError):
                response.release()
                attempt += 1
                if attempt > RETRIES:
                    raise
                await asyncio.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))
                headers = {"Range": f"bytes={sink.size}-"}
                if validator:
                    headers["If-Range"] = validator
                response, url = await _open(work, session, url, headers)
                if response.status == 206 and _starts_at(response, sink.size):
                    continue
                if response.status == 200:  # the server ignored the range, or it changed
                    with work.lock:
                        work.bytes_done -= sink.size
                    sink.handle.seek(0)
                    sink.handle.truncate()
                    sink.size = 0
                    digest = hashlib.sha256()
                    length = response.content_length
                    continue
                response.release()
                raise _status_error(response.status, url) from None
        sink.finish()
        work.set_state(TransferState.VERIFYING, f"Checking {name}")
        if length is not None and sink.size != length:
            raise TransferError(
                "network", f"{name} arrived with {sink.size:,} bytes of {length:,}."
            )
        method = "size"
        if item.sha256:
            if digest.hexdigest() != item.sha256:
                raise TransferError(
                    "failed",
                    f"{name} arrived, but its SHA-256 is not the one you gave, so it was "
                    "not kept. It may have changed on the server, or been damaged.",
                )
            method = "sha256"
        if work.spec.unpack and archives.kind_of(name):
            work.set_state(TransferState.VERIFYING, f"Unpacking {name}")
            placed = await asyncio.to_thread(archives.unpack, sink.path, name, target, work)
            for entry in placed:
                work.add_result(entry)
            work.finished(Check(path=name, size=sink.size, method=method, ok=True))
            work.remember(key, {"unpacked": True})
        else:
            final = work.place(sink.path, target, name)
            work.finished(Check(path=final, size=sink.size, method=method, ok=True), final)
            work.remember(key, {"name": final, "size": sink.size, "method": method})
        work.set_state(TransferState.RUNNING)


def _starts_at(response: aiohttp.ClientResponse, offset: int) -> bool:
    """Whether a 206 answer continues exactly where the file stopped."""
    text = response.headers.get("Content-Range", "")
    try:
        first = int(text.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return False
    return first == offset


def _still_there(target: str, earlier: dict[str, Any]) -> bool:
    if earlier.get("unpacked"):
        return False
    name = earlier.get("name")
    if not isinstance(name, str) or not isinstance(earlier.get("size"), int):
        return False
    try:
        return bool(os.lstat(os.path.join(target, name)).st_size == earlier["size"])
    except OSError:
        return False


async def fetch(work: Work) -> None:
    endpoint = work.spec.source
    assert isinstance(endpoint, UrlEndpoint)
    work.set_totals(None, len(endpoint.items))
    work.set_state(TransferState.RUNNING)
    async with session_for(work) as session:
        for index, item in enumerate(endpoint.items):
            await _one(work, session, index, item)


async def browse(request: dict[str, Any], guard: Guard) -> dict[str, Any]:
    raise TransferError("failed", "Web addresses cannot be browsed.")
