"""Transfers: download a file (with Range), a folder or a selection as a streamed
zip, and resumable uploads.

Uploads speak the core of the tus 1.0 protocol (https://tus.io): ``POST
/files/uploads`` creates an upload (creation extension; the size is checked against
``files.max_upload_bytes``, free space and quota before any byte is sent), ``HEAD``
answers how much has arrived (the part file's size: it survives a restart of the
portal), ``PATCH`` appends at that offset, ``DELETE`` gives up (termination). A piece
sent with ``Upload-Checksum: sha256 <base64>`` (checksum extension; sha1 and crc32
are taken too; our page always sends sha256) counts only once it matched: it is
written as it arrives but its last byte waits for the check (see ``_committed``), and
a piece that does not match is cut off again and refused with 460. A PATCH without
a checksum streams straight into the file (plain tus clients, ``curl``).

The upload's address carries what the portal needs to find the part file again
(folder, name, token, size, conflict rule): no table to lose. Someone else's address
gets nowhere: every use goes through the verb gate and that person's own agent, and
the part file is theirs alone (mode 0600).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import posixpath
import secrets
import weakref
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.logs import get_logger
from app.settings import FileSettings
from app.verbs import VerbError, descriptors
from app.verbs.files_manage import home_of
from app.web.downloads import attachment, download_headers, file_response, stream
from app.web.templating import message_page, render
from managers.words import size_words
from wrappers.request import verb_gate, viewer

log = get_logger("onestop.files.transfer")

TUS_VERSION = "1.0.0"
WRITE_BATCH = 1024 * 1024
IN_FLIGHT = 8  # batches (and hash updates) a piece may have waiting for the threads


class _Crc32:
    """tus ``crc32`` (4 bytes, big-endian): catches damage in transit at a fraction of
    SHA-256's CPU cost; offered for clients on slow machines and for the benchmark."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


CHECKSUMS: dict[str, Any] = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "crc32": _Crc32}


def _settings(request: Request) -> FileSettings:
    files: FileSettings = request.app.state.settings.files
    return files


def _trouble(request: Request, error: VerbError) -> Response:
    status = error.status
    if error.kind == "ENOENT":
        status = 404
    elif error.kind in ("EACCES", "EPERM"):
        status = 403
    return message_page(
        request,
        "That did not work",
        error.message,
        status_code=status,
        action_url="/files",
        action_label="Back to your files",
        tone="error",
    )


# --- downloads ------------------------------------------------------------------------


async def download(request: Request) -> Response:
    """One file, with Range and If-Range so a browser can resume; a folder goes to zip."""
    path = request.query_params.get("path", "")
    try:
        opened = await verb_gate(request).call(viewer(request), "files.read", path=path)
    except VerbError as error:
        if error.kind == "EISDIR":
            return RedirectResponse("/files/zip?" + urlencode({"path": path}), status_code=303)
        return _trouble(request, error)
    name = posixpath.basename(posixpath.normpath(path)) or "download"
    return file_response(request, opened.fd, download_headers(name))


async def zip_download(request: Request) -> Response:
    """``?path=a&path=b``: items of one folder (or one folder) as one zip, streamed."""
    paths = [posixpath.normpath(item) for item in request.query_params.getlist("path")]
    if not paths:
        return PlainTextResponse("Choose at least one file or folder.", status_code=400)
    folders = {posixpath.dirname(item) for item in paths}
    names = [posixpath.basename(item) for item in paths]
    if len(folders) != 1 or not all(names):
        return message_page(
            request,
            "That did not work",
            "Choose items from one folder for a zip.",
            status_code=400,
            action_url="/files",
            action_label="Back to your files",
            tone="error",
        )
    folder = folders.pop()
    try:
        opened = await verb_gate(request).call(
            viewer(request), "files.zip", path=folder, names=names
        )
    except VerbError as error:
        return _trouble(request, error)
    title = names[0] if len(names) == 1 else posixpath.basename(folder) or "files"
    headers = download_headers(f"{title}.zip")
    return stream(opened.fd, 0, None, 200, headers, "application/zip", request, check_zip=True)


# --- uploads --------------------------------------------------------------------------


class Upload:
    """What an upload's address says: folder, name, token, size and conflict rule."""

    def __init__(self, folder: str, name: str, token: str, length: int, conflict: str) -> None:
        self.folder, self.name, self.token = folder, name, token
        self.length, self.conflict = length, conflict

    def encode(self) -> str:
        data = json.dumps([self.folder, self.name, self.token, self.length, self.conflict])
        return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Upload | None:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            folder, name, token, length, conflict = json.loads(raw)
        except (ValueError, TypeError, binascii.Error):
            return None
        if not all(isinstance(item, str) for item in (folder, name, token, conflict)):
            return None
        if not isinstance(length, int) or length < 0:
            return None
        return cls(folder, name, token, length, conflict)

    def where(self) -> dict[str, Any]:
        return {"path": self.folder, "name": self.name, "token": self.token}


# One lock per upload in this process: a retried piece must not race the one it retries.
_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _tus(response: Response) -> Response:
    response.headers["tus-resumable"] = TUS_VERSION
    response.headers["cache-control"] = "no-store"
    return response


def _plain(text: str, status: int, **headers: str) -> Response:
    response = PlainTextResponse(text, status_code=status)
    for key, value in headers.items():
        response.headers[key.replace("_", "-")] = value
    return _tus(response)


def _verb_refusal(error: VerbError) -> Response:
    status = {
        "ENOENT": 404,
        "EACCES": 403,
        "EPERM": 403,
        "EDQUOT": 413,
        "ENOSPC": 413,
        "EEXIST": 409,
    }.get(error.kind, error.status)
    return _plain(error.message, status)


def _metadata(header: str) -> dict[str, str]:
    """tus ``Upload-Metadata``: ``key base64value,key base64value``."""
    values: dict[str, str] = {}
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        if not parts[0]:
            continue
        try:
            values[parts[0]] = (
                base64.b64decode(parts[1], validate=True).decode() if len(parts) > 1 else ""
            )
        except (ValueError, binascii.Error):
            raise ValueError(f"The upload's {parts[0]!r} is not readable.") from None
    return values


async def uploads_options(request: Request) -> Response:
    files = _settings(request)
    response = Response(status_code=204)
    response.headers.update(
        {
            "tus-version": TUS_VERSION,
            "tus-extension": "creation,termination,checksum",
            "tus-max-size": str(files.max_upload_bytes),
            "tus-checksum-algorithm": ",".join(CHECKSUMS),
            "onestop-chunk-size": str(files.chunk_bytes),
        }
    )
    return _tus(response)


async def create_upload(request: Request) -> Response:
    """A new upload: refused at once if it is too large or does not fit."""
    files = _settings(request)
    try:
        length = int(request.headers.get("upload-length", ""))
        if length < 0:
            raise ValueError
    except ValueError:
        return _plain("Say how large the file is (Upload-Length).", 400)
    try:
        meta = _metadata(request.headers.get("upload-metadata", ""))
    except ValueError as error:
        return _plain(str(error), 400)
    name = meta.get("relativePath") or meta.get("filename") or meta.get("name") or ""
    folder = meta.get("folder", "")
    conflict = meta.get("conflict", "keep-both")
    if length > files.max_upload_bytes:
        return _plain(
            f"{name or 'This file'} is {size_words(length)}; the portal takes files of up to "
            f"{size_words(files.max_upload_bytes)}. Copy larger files with your HPC team's "
            "tools, or split them.",
            413,
        )
    upload = Upload(folder, name, secrets.token_hex(16), length, conflict)
    gate, who = verb_gate(request), viewer(request)
    try:
        await gate.call(
            who,
            "files.upload_start",
            **upload.where(),
            length=length,
            conflict=conflict,
            abandoned_days=files.abandoned_upload_days,
        )
    except VerbError as error:
        return _verb_refusal(error)
    location = f"/files/uploads/{upload.encode()}"
    if length == 0:
        try:
            entry = await gate.call(
                who, "files.upload_finish", **upload.where(), length=0, conflict=conflict
            )
        except VerbError as error:
            return _verb_refusal(error)
        return _plain("", 201, location=location, upload_offset="0", onestop_file=entry.path)
    return _plain(
        "", 201, location=location, upload_offset="0", onestop_chunk_size=str(files.chunk_bytes)
    )


async def upload_state(request: Request) -> Response:
    """HEAD: how much of this upload has arrived (the part file's size)."""
    upload = Upload.decode(request.path_params["upload_id"])
    if upload is None:
        return _plain("There is no such upload.", 404)
    try:
        opened = await verb_gate(request).call(
            viewer(request), "files.upload_open", **upload.where()
        )
    except VerbError as error:
        return _verb_refusal(error)
    try:
        size = descriptors.info(opened.fd).st_size
    finally:
        descriptors.close(opened.fd)
    return _plain(
        "",
        200,
        upload_offset=str(_committed(size, upload.length, _settings(request).chunk_bytes)),
        upload_length=str(upload.length),
        onestop_chunk_size=str(_settings(request).chunk_bytes),
    )


async def cancel_upload(request: Request) -> Response:
    upload = Upload.decode(request.path_params["upload_id"])
    if upload is None:
        return _plain("There is no such upload.", 404)
    try:
        await verb_gate(request).call(viewer(request), "files.upload_cancel", **upload.where())
    except VerbError as error:
        return _verb_refusal(error)
    return _plain("", 204)


async def append(request: Request) -> Response:
    """PATCH: one piece at ``Upload-Offset``; the last one gives the file its name."""
    upload = Upload.decode(request.path_params["upload_id"])
    if upload is None:
        return _plain("There is no such upload.", 404)
    if request.headers.get("content-type", "").split(";")[0] != "application/offset+octet-stream":
        return _plain("Send the piece as application/offset+octet-stream.", 415)
    try:
        offset = int(request.headers.get("upload-offset", ""))
    except ValueError:
        return _plain("Say where this piece goes (Upload-Offset).", 400)
    expected: bytes | None = None
    algorithm = ""
    if "upload-checksum" in request.headers:
        algorithm, _, encoded = request.headers["upload-checksum"].strip().partition(" ")
        if algorithm not in CHECKSUMS:
            return _plain(f"Unknown checksum {algorithm!r}; use sha256.", 400)
        try:
            expected = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            return _plain("The checksum is not base64.", 400)
    limit = upload.length - offset
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max(limit, 0):
        return _plain("This piece goes past the end of the file.", 413)
    if offset < 0 or limit < 0:
        return _plain("This piece starts outside the file.", 400)
    if expected is not None:
        # A checked piece stays within one window of chunk_bytes (see _committed).
        chunk = _settings(request).chunk_bytes
        limit = min(limit, chunk - offset % chunk)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _plain(
                f"A checked piece may be at most {size_words(chunk)} and may not cross a "
                f"multiple of {chunk} bytes.",
                413,
            )
    gate, who = verb_gate(request), viewer(request)
    lock = _locks.setdefault(request.path_params["upload_id"], asyncio.Lock())
    async with lock:
        try:
            opened = await gate.call(who, "files.upload_open", **upload.where())
        except VerbError as error:
            return _verb_refusal(error)
        fd: int = opened.fd
        try:
            size = descriptors.info(fd).st_size
            committed = _committed(size, upload.length, _settings(request).chunk_bytes)
            if offset not in (size, committed):
                return _plain(
                    f"This piece starts at {offset} but {committed} bytes have arrived.",
                    409,
                    upload_offset=str(committed),
                )
            try:
                written = await _receive_into(request, fd, offset, limit, algorithm, expected)
            except ClientDisconnect:
                return _plain("The connection dropped; ask how much arrived and go on.", 400)
            except _PieceRefused as refusal:
                return _plain(refusal.text, refusal.status, upload_offset=str(offset))
            except OSError as error:
                log.warning("upload_write_failed", error=repr(error), user=who.unix_name)
                words = "The disk is full" if error.errno in (28, 122) else "Writing failed"
                return _plain(f"{words}; the upload stopped at {offset} bytes.", 507)
        finally:
            descriptors.close(fd)
    offset += written
    if offset < upload.length:
        return _plain("", 204, upload_offset=str(offset))
    try:
        entry = await gate.call(
            who, "files.upload_finish", **upload.where(), length=upload.length,
            conflict=upload.conflict,
        )  # fmt: skip
    except VerbError as error:
        return _verb_refusal(error)
    return _plain("", 204, upload_offset=str(offset), onestop_file=quote(entry.path))


def _committed(size: int, length: int, chunk: int) -> int:
    """How much of an upload counts as arrived, from its part file's size.

    A checked piece is written as it arrives, all but its last byte; that byte is
    written only once the checksum matched. So a part file that ends between piece
    boundaries holds an unfinished (unchecked) piece, which does not count: the
    browser sends that piece again. Only a whole file counts as is.
    """
    return size if size >= length else size - size % chunk


class _PieceRefused(Exception):
    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.text, self.status = text, status


async def _receive_into(
    request: Request, fd: int, offset: int, limit: int, algorithm: str, expected: bytes | None
) -> int:
    """Write the body at ``offset`` while it arrives; the bytes written.

    The receiving never waits for the disk or the hash: batches are written, in
    order (so the file never has a hole below its end), by one thread of this
    piece's own and hashed by another, with at most ``IN_FLIGHT`` batches waiting.
    With a checksum, the last byte is held back until the whole piece matched (see
    ``_committed``); a piece that does not match is cut off again and refused (460).
    """
    hasher = CHECKSUMS[algorithm]() if expected is not None else None
    writing = ThreadPoolExecutor(1, thread_name_prefix="upload-write")
    hashing = ThreadPoolExecutor(1, thread_name_prefix="upload-hash")
    loop = asyncio.get_running_loop()
    pending: list[bytes] = []
    pending_size = received = 0
    position = offset
    busy: deque[asyncio.Future[None]] = deque()
    try:
        async for piece in request.stream():
            received += len(piece)
            if received > limit:
                raise _PieceRefused("This piece goes past the end of the file.", 413)
            pending.append(piece)
            pending_size += len(piece)
            if pending_size > WRITE_BATCH:
                joined = memoryview(b"".join(pending))
                keep = 1 if hasher is not None else 0  # the held-back last byte
                batch = joined[: len(joined) - keep]
                pending, pending_size = [bytes(joined[len(joined) - keep :])], keep
                busy.append(
                    loop.run_in_executor(writing, descriptors.write_all, fd, [batch], position)
                )
                if hasher is not None:
                    busy.append(loop.run_in_executor(hashing, hasher.update, batch))
                position += len(batch)
                while len(busy) > IN_FLIGHT:
                    await busy.popleft()
    finally:
        while busy:
            await busy.popleft()
        writing.shutdown(wait=False)
        hashing.shutdown(wait=False)
    tail = b"".join(pending)
    if hasher is not None:
        hasher.update(tail)
        if not secrets.compare_digest(hasher.digest(), expected or b""):
            await descriptors.truncate(fd, offset)
            raise _PieceRefused(
                "Checksum mismatch: this piece was damaged on the way; send it again.", 460
            )
    if tail:
        await asyncio.to_thread(descriptors.write_all, fd, [tail], position)
    return received


# --- the upload page --------------------------------------------------------------------


async def upload_page(request: Request) -> Response:
    """The drop zone on a page of its own (the file browser shows the same partial)."""
    who = viewer(request)
    folder = request.query_params.get("path") or home_of(who.unix_name)
    files = _settings(request)
    return render(
        request,
        "files/upload.html",
        {
            "active": "files",
            "upload_folder": posixpath.normpath(folder),
            "upload_limit": files.max_upload_bytes,
            "upload_limit_words": size_words(files.max_upload_bytes),
        },
    )


routes: list[BaseRoute] = [
    Route("/files/download", download, methods=["GET", "HEAD"]),
    Route("/files/zip", zip_download, methods=["GET"]),
    Route("/files/upload", upload_page, methods=["GET"]),
    Route("/files/uploads", uploads_options, methods=["OPTIONS"]),
    Route("/files/uploads", create_upload, methods=["POST"]),
    Route("/files/uploads/{upload_id}", upload_state, methods=["HEAD"]),
    Route("/files/uploads/{upload_id}", append, methods=["PATCH"]),
    Route("/files/uploads/{upload_id}", cancel_upload, methods=["DELETE"]),
]

__all__ = ["attachment", "routes"]
