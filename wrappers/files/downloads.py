"""Sending an open descriptor to the browser: one file with Range, If-Range and HEAD,
or a stream (a zip, a file from another login node) read to its end.

Both the signed-in download (wrappers/files/transfer.py) and public links
(wrappers/files/public_links.py) send what an agent opened as the person; the kernel has
decided already, so this module only measures, picks the range and streams. One
place for it, so a resumed download behaves the same whoever asks.
"""

from __future__ import annotations

import re
import stat
from collections.abc import AsyncIterator
from email.utils import formatdate
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.logs import get_logger
from app.verbs import descriptors

log = get_logger("onestop.files.download")

READ_SIZE = 4 * 1024 * 1024
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
EOCD = b"PK\x05\x06"


def attachment(name: str) -> str:
    """``Content-Disposition`` that saves under ``name`` (RFC 6266, with a plain fallback)."""
    raw = name.encode("utf-8", "surrogateescape")
    plain = "".join(
        char if char.isascii() and char.isprintable() and char not in '"\\;' else "_"
        for char in raw.decode("utf-8", "replace")
    )
    return f"attachment; filename=\"{plain or 'download'}\"; filename*=UTF-8''{quote(raw, safe='')}"


def download_headers(name: str) -> dict[str, str]:
    """Whatever the file holds, the browser saves it: never shown as a page of ours."""
    return {
        "content-disposition": attachment(name),
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox; default-src 'none'",
        "cache-control": "private, no-store",
    }


def file_response(request: Request, fd: int, headers: dict[str, str]) -> Response:
    """The response for ``fd`` (owned from here on: closed however the response ends).

    A plain file gets an ETag, Last-Modified and the one byte range asked for (206, or
    416 with ``Content-Range: bytes */size``); HEAD gets the headers only. Anything
    else (a pipe) is streamed whole, without ranges.
    """
    try:
        info = descriptors.info(fd)
        headers = {**headers, "accept-ranges": "bytes"}
        if not stat.S_ISREG(info.st_mode):  # a stream from another login node
            headers["accept-ranges"] = "none"
            return stream(fd, 0, None, 200, headers, "application/octet-stream", request)
        size = info.st_size
        etag = f'"{info.st_ino:x}-{size:x}-{info.st_mtime_ns:x}"'
        modified = formatdate(info.st_mtime, usegmt=True)
        headers.update({"etag": etag, "last-modified": modified})
        start, end, status = 0, size, 200
        wanted = byte_range(request, size, etag, modified)
        if isinstance(wanted, str):  # "unsatisfiable"
            descriptors.close(fd)
            headers["content-range"] = f"bytes */{size}"
            return Response(status_code=416, headers=headers)
        if wanted is not None:
            start, end = wanted
            status = 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        headers["content-length"] = str(end - start)
        if request.method == "HEAD":
            descriptors.close(fd)
            return Response(status_code=status, headers=headers, media_type=None)
        return stream(fd, start, end, status, headers, "application/octet-stream", request)
    except BaseException:
        descriptors.close(fd)
        raise


def byte_range(
    request: Request, size: int, etag: str, modified: str
) -> tuple[int, int] | str | None:
    """The one byte range asked for as (start, end), "unsatisfiable", or None for all.

    Several ranges at once are answered with the whole file (allowed, and simpler); an
    ``If-Range`` that names another version also gets the whole file.
    """
    header = request.headers.get("range")
    if not header:
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range not in (etag, modified):
        return None
    match = RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            return "unsatisfiable"
        return max(0, size - count), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, end


def stream(
    fd: int,
    start: int,
    end: int | None,
    status: int,
    headers: dict[str, str],
    media_type: str,
    request: Request,
    *,
    check_zip: bool = False,
) -> Response:
    """Bytes ``start`` to ``end`` of ``fd`` (to its end when None); ``fd`` is closed
    however the response ends."""
    descriptor = _Descriptor(fd)
    return StreamingResponse(
        _chunks(descriptor, start, end, check_zip, request.url.path),
        status_code=status,
        headers=headers,
        media_type=media_type,
        # Runs however the response ends, even when the browser left before the first
        # byte (then the generator never started and its own cleanup never runs).
        background=BackgroundTask(descriptor.close),
    )


class _Descriptor:
    """An open descriptor closed exactly once, by whoever gets there first."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            descriptors.close(self.fd)


async def _chunks(
    descriptor: _Descriptor, start: int, end: int | None, check_zip: bool, where: str
) -> AsyncIterator[bytes]:
    """The bytes from ``start`` to ``end`` (to the end of a stream when None), read in a
    worker thread (a cold disk must not stall the event loop); the descriptor is closed
    however the response ends."""
    fd = descriptor.fd
    position = start
    tail = b""
    try:
        while end is None or position < end:
            want = READ_SIZE if end is None else min(READ_SIZE, end - position)
            if end is None:
                data = await descriptors.read(fd, want, None)
            else:
                data = await descriptors.read(fd, want, position)
            if not data:
                break
            position += len(data)
            if check_zip:
                tail = (tail + data[-22:])[-22:]
            yield data
        if end is not None and position < end:
            log.warning("download_shrank", path=where, expected=end, sent=position)
            raise DownloadBroken("the file became shorter while it was sent")
        if check_zip and not tail.startswith(EOCD):
            log.warning("zip_incomplete", path=where, sent=position)
            raise DownloadBroken("the zip could not be completed")
    finally:
        descriptor.close()


class DownloadBroken(Exception):
    """Raised mid-stream so the server cuts the connection: the browser then reports a
    failed download instead of saving a short file as if it were whole."""


__all__ = [
    "DownloadBroken",
    "attachment",
    "byte_range",
    "download_headers",
    "file_response",
    "stream",
]
