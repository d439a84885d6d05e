"""Transfers: download a file (with Range), a folder or a selection as a streamed
zip, and resumable uploads.

Uploads speak the core of the tus 1.0 protocol (https://tus.io): ``POST
/files/uploads`` creates an upload (creation extension; the size is checked against
``files.max_upload_bytes``, free space and quota before any byte is sent), ``HEAD``
answers how much has arrived (the part file's size: it survives a restart of the
portal), ``PATCH`` appends at that offset, ``DELETE`` gives up (termination). A piece
sent with ``Upload-Checksum: crc32 <base64>`` (checksum extension; sha256 and sha1
are taken too) counts only once it matched: it is written as it arrives but its last
bytes wait for the check (see ``_committed``), and a piece that does not match is cut
off again and refused with 460. A PATCH without a checksum streams straight into the
file (plain tus clients, ``curl``).

The whole file is checked too: an upload created with the metadata ``checksum
sha256`` has its SHA-256 computed as the bytes pass (wrappers/files/upload_stream.py),
and its last piece must carry ``Repr-Digest: sha-256=:<base64>:`` (RFC 9530), the
digest the browser computed while reading the file. Any upload's last piece may carry
it (the part file is then read once more at the end). A file whose digest does not
match is refused (422): the part file stays where it is, hidden, and the final name
is not touched.

A refused or failed verb is answered by the portal's one mapping (app/web/errors.py):
a request with ``Tus-Resumable`` gets plain text, the tus headers and its kind's
status (a full disk is 413, which clients do not retry).

The upload's address carries what the portal needs to find the part file again
(folder, name, token, size, conflict rule, whole-file check): no table to lose.
Someone else's address gets nowhere: every use goes through the verb gate and that
person's own agent, and the part file is theirs alone (mode 0600).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import posixpath
import secrets
import weakref
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.logs import get_logger
from app.verbs import VerbError, descriptors
from app.web.templating import message_page, render
from managers.words import size_words
from wrappers.files.downloads import attachment, download_headers, file_response, stream
from wrappers.files.settings import FileSettings, file_settings
from wrappers.files.upload_stream import (
    CHECKSUMS,
    PieceRefused,
    WholeDigest,
    WholeDigests,
    receive_piece,
)
from wrappers.files.verbs.manage import home_of
from wrappers.request import verb_gate, viewer

log = get_logger("onestop.files.transfer")

TUS_VERSION = "1.0.0"
WHOLE = "sha256"  # the whole-file check an upload may ask for (metadata "checksum")


def _settings(request: Request) -> FileSettings:
    return file_settings(request.app.state.settings)


# --- downloads ------------------------------------------------------------------------


async def download(request: Request) -> Response:
    """One file, with Range and If-Range so a browser can resume; a folder goes to zip."""
    path = request.query_params.get("path", "")
    try:
        opened = await verb_gate(request).call(viewer(request), "files.read", path=path)
    except VerbError as error:
        if error.detail == "EISDIR":
            return RedirectResponse("/files/zip?" + urlencode({"path": path}), status_code=303)
        raise
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
    opened = await verb_gate(request).call(viewer(request), "files.zip", path=folder, names=names)
    title = names[0] if len(names) == 1 else posixpath.basename(folder) or "files"
    headers = download_headers(f"{title}.zip")
    return stream(opened.fd, 0, None, 200, headers, "application/zip", request, check_zip=True)


# --- uploads --------------------------------------------------------------------------


class Upload:
    """What an upload's address says: folder, name, token, size, conflict rule and
    whether the whole file's SHA-256 is computed as it arrives ("sha256" or "")."""

    def __init__(
        self, folder: str, name: str, token: str, length: int, conflict: str, whole: str = ""
    ) -> None:
        self.folder, self.name, self.token = folder, name, token
        self.length, self.conflict, self.whole = length, conflict, whole

    def encode(self) -> str:
        fields = [self.folder, self.name, self.token, self.length, self.conflict]
        if self.whole:
            fields.append(self.whole)
        return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Upload | None:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            # Addresses made before the whole-file check have five fields.
            folder, name, token, length, conflict, *rest = json.loads(raw)
        except (ValueError, TypeError, binascii.Error):
            return None
        whole = rest[0] if len(rest) == 1 else ""
        if len(rest) > 1 or whole not in ("", WHOLE):
            return None
        if not all(isinstance(item, str) for item in (folder, name, token, conflict)):
            return None
        if not isinstance(length, int) or length < 0:
            return None
        return cls(folder, name, token, length, conflict, whole)

    def where(self) -> dict[str, Any]:
        return {"path": self.folder, "name": self.name, "token": self.token}


# One lock per upload in this process: a retried piece must not race the one it retries.
_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
# The whole-file SHA-256 of uploads under way, carried from piece to piece.
_digests = WholeDigests()


def _tus(response: Response) -> Response:
    response.headers["tus-resumable"] = TUS_VERSION
    response.headers["cache-control"] = "no-store"
    return response


def _plain(text: str, status: int, **headers: str) -> Response:
    response = PlainTextResponse(text, status_code=status)
    for key, value in headers.items():
        response.headers[key.replace("_", "-")] = value
    return _tus(response)


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
            # Upload-Metadata "checksum sha256" + Repr-Digest on the last piece.
            "onestop-whole-checksum": WHOLE,
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
    whole = meta.get("checksum", "")
    if whole not in ("", WHOLE):
        return _plain(f"Unknown whole-file checksum {whole!r}; use {WHOLE}.", 400)
    if length > files.max_upload_bytes:
        return _plain(
            f"{name or 'This file'} is {size_words(length)}; the portal takes files of up to "
            f"{size_words(files.max_upload_bytes)}. Copy larger files with your HPC team's "
            "tools, or split them.",
            413,
        )
    upload = Upload(folder, name, secrets.token_hex(16), length, conflict, whole)
    gate, who = verb_gate(request), viewer(request)
    await gate.call(
        who,
        "files.upload_start",
        **upload.where(),
        length=length,
        conflict=conflict,
        abandoned_days=files.abandoned_upload_days,
    )
    location = f"/files/uploads/{upload.encode()}"
    if length == 0:
        entry = await gate.call(
            who, "files.upload_finish", **upload.where(), length=0, conflict=conflict
        )
        return _plain("", 201, location=location, upload_offset="0", onestop_file=entry.path)
    return _plain(
        "", 201, location=location, upload_offset="0", onestop_chunk_size=str(files.chunk_bytes)
    )


async def upload_state(request: Request) -> Response:
    """HEAD: how much of this upload has arrived (the part file's size)."""
    upload = Upload.decode(request.path_params["upload_id"])
    if upload is None:
        return _plain("There is no such upload.", 404)
    opened = await verb_gate(request).call(viewer(request), "files.upload_open", **upload.where())
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
    await verb_gate(request).call(viewer(request), "files.upload_cancel", **upload.where())
    return _plain("", 204)


def _repr_digest(header: str) -> bytes | None:
    """The SHA-256 in a ``Repr-Digest`` field (RFC 9530: ``sha-256=:<base64>:``, maybe
    among other algorithms); None when it names none; ValueError when it is unreadable."""
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key.strip().lower() != "sha-256":
            continue
        value = value.strip()
        if len(value) < 2 or value[0] != ":" or value[-1] != ":":
            raise ValueError
        try:
            digest = base64.b64decode(value[1:-1], validate=True)
        except (ValueError, binascii.Error):
            raise ValueError from None
        if len(digest) != 32:
            raise ValueError
        return digest
    return None


async def append(request: Request) -> Response:
    """PATCH: one piece at ``Upload-Offset``; the last one gives the file its name."""
    upload_id = request.path_params["upload_id"]
    upload = Upload.decode(upload_id)
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
            return _plain(f"Unknown checksum {algorithm!r}; use crc32 or sha256.", 400)
        try:
            expected = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            return _plain("The checksum is not base64.", 400)
    try:
        whole_expected = _repr_digest(request.headers.get("repr-digest", ""))
    except ValueError:
        return _plain("The whole file's checksum is not readable (Repr-Digest).", 400)
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
    lock = _locks.setdefault(upload_id, asyncio.Lock())
    async with lock:
        opened = await gate.call(who, "files.upload_open", **upload.where())
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
            whole = _digests.get(upload_id) if upload.whole else None
            if whole is not None:
                whole.catch_up(fd, offset)
            try:
                written = await receive_piece(
                    request, fd, offset, limit, algorithm, expected, whole
                )
            except ClientDisconnect:
                _digests.forget(upload_id)
                return _plain("The connection dropped; ask how much arrived and go on.", 400)
            except PieceRefused as refusal:
                _digests.forget(upload_id)
                return _plain(refusal.text, refusal.status, upload_offset=str(offset))
            except OSError as error:
                _digests.forget(upload_id)
                log.warning("upload_write_failed", error=repr(error), user=who.unix_name)
                words = "The disk is full" if error.errno in (28, 122) else "Writing failed"
                return _plain(f"{words}; the upload stopped at {offset} bytes.", 507)
            offset += written
            if offset < upload.length:
                return _plain("", 204, upload_offset=str(offset))
            refused = await _check_whole(upload, upload_id, fd, whole, whole_expected)
            if refused is not None:
                return refused
        finally:
            descriptors.close(fd)
    entry = await gate.call(
        who, "files.upload_finish", **upload.where(), length=upload.length,
        conflict=upload.conflict,
    )  # fmt: skip
    response = _plain("", 204, upload_offset=str(offset), onestop_file=quote(entry.path))
    if whole_expected is not None:
        response.headers["repr-digest"] = f"sha-256=:{base64.b64encode(whole_expected).decode()}:"
    return response


async def _check_whole(
    upload: Upload,
    upload_id: str,
    fd: int,
    whole: WholeDigest | None,
    expected: bytes | None,
) -> Response | None:
    """Before the final name: the whole file against the digest the browser sent. None
    when it may be named; otherwise the refusal, the part file left as it is."""
    if expected is None:
        if upload.whole:
            return _plain(
                "Send the whole file's SHA-256 with the last piece "
                "(Repr-Digest: sha-256=:<base64>:).",
                400,
                upload_offset=str(upload.length),
            )
        return None
    if whole is None:  # not computed on the way: read the part file once more
        whole = _digests.get(upload_id)
        whole.catch_up(fd, upload.length)
    try:
        actual = await whole.value()
    except OSError as error:
        log.warning("upload_digest_failed", error=repr(error))
        return _plain("The upload could not be read back to check it; try again.", 503)
    finally:
        # Whatever the outcome, a next try starts from the part file on disk.
        _digests.forget(upload_id)
    if secrets.compare_digest(actual, expected):
        return None
    log.warning("upload_whole_mismatch", upload=upload.name, folder=upload.folder)
    return _plain(
        f"{posixpath.basename(upload.name)} arrived complete, but its content differs from "
        "the file on your computer (the SHA-256 checksums do not match), so it was not "
        "saved under its name. Please upload it again.",
        422,
        upload_offset=str(upload.length),
    )


def _committed(size: int, length: int, chunk: int) -> int:
    """How much of an upload counts as arrived, from its part file's size.

    A checked piece is written as it arrives, all but its last bytes; those are
    written only once the checksum matched. So a part file that ends between piece
    boundaries holds an unfinished (unchecked) piece, which does not count: the
    browser sends that piece again. Only a whole file counts as is.
    """
    return size if size >= length else size - size % chunk


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
