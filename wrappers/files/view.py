"""Looking at one file: a preview page, the bytes behind an image or PDF preview, the
editor, and disk usage.

Nothing a file contains ever runs in the portal's pages. Text (HTML included) is
shown escaped; CSV becomes a table of text; images and PDFs come from ``/files/raw``
with their own type, ``nosniff`` and ``Content-Security-Policy: sandbox``, so even a
file that claims to be an image but holds HTML is never a page of this origin. Any
other type is not served here at all (downloads are ``/files/download``).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import posixpath
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from app.verbs import ErrorKind, VerbError, VerbFailed, VerbInvalid
from app.web.errors import status_of
from wrappers.files.common import (
    crumbs,
    done_words,
    page,
    parent,
    places,
    problem,
    query_path,
    url,
)
from wrappers.request import verb_gate, viewer

HEAD_BYTES = 64 * 1024
EDIT_BYTES = 1024 * 1024
CSV_ROWS = 200
IMAGES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".avif": "image/avif",
}
PDF = "application/pdf"
# The preview bytes are a document of their own: no script, no plugins, no same
# origin, and nothing else may frame them but the portal's own preview page.
RAW_HEADERS = {
    "content-security-policy": "sandbox; default-src 'none'; img-src 'self'; "
    "style-src 'unsafe-inline'; frame-ancestors 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "cross-origin-resource-policy": "same-origin",
}


def _ending(path: str) -> str:
    return posixpath.splitext(path)[1].lower()


def kind_of(path: str) -> str:
    """What the preview shows: image, pdf, csv or text (binary is found by reading)."""
    ending = _ending(path)
    if ending in IMAGES:
        return "image"
    if ending == ".pdf":
        return "pdf"
    if ending in (".csv", ".tsv"):
        return "csv"
    return "text"


def _table(text: str, tabs: bool) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text), delimiter="\t" if tabs else ","):
            rows.append(row)
            if len(rows) > CSV_ROWS:
                break
    except csv.Error:
        pass
    return rows


async def _open_head(request: Request, path: str, limit: int) -> tuple[bytes, int]:
    opened = await verb_gate(request).call(viewer(request), "files.read", path=path)
    data, size = await asyncio.to_thread(opened.head, limit)
    return bytes(data), int(size)


async def view(request: Request) -> Response:
    path = query_path(request)
    entry = await verb_gate(request).call(viewer(request), "files.stat", path=path)
    if entry.kind == "folder":
        return RedirectResponse(url("/files", path=entry.path), status_code=303)
    kind = kind_of(entry.path)
    context: dict[str, Any] = {"entry": entry, "kind": kind, "folder": parent(entry.path)}
    if kind in ("text", "csv"):
        data, size = await _open_head(request, entry.path, HEAD_BYTES)
        if b"\x00" in data:
            kind = "binary"
        else:
            text = data.decode("utf-8", errors="replace")
            context.update(
                text=text,
                cut=size > len(data),
                editable=size <= EDIT_BYTES,
                rows=_table(text, _ending(entry.path) == ".tsv") if kind == "csv" else [],
            )
    context["kind"] = kind
    roots = await places(request)
    context.update(places=roots, crumbs=crumbs(entry.path, roots))
    return page(request, "files/view.html", context)


async def raw(request: Request) -> Response:
    """An image's or a PDF's bytes for its preview, with the headers above."""
    path = query_path(request)
    ending = _ending(path)
    media = IMAGES.get(ending) or (PDF if ending == ".pdf" else None)
    if media is None:
        return HTMLResponse("Only images and PDFs are previewed here.", status_code=404)
    try:
        opened = await verb_gate(request).call(viewer(request), "files.read", path=path)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return HTMLResponse(error.message, status_code=404)  # not there, not hers: alike
    size = opened.size()
    name = posixpath.basename(path).encode("ascii", "replace").decode().replace('"', "_")
    headers = {
        **RAW_HEADERS,
        "content-length": str(size),
        "content-disposition": f'inline; filename="{name}"',
    }
    return StreamingResponse(opened.chunks(), media_type=media, headers=headers)


# ---------------------------------------------------------------- the editor


def _editor(
    request: Request,
    entry: Any,
    text: str,
    sha: str,
    crlf: bool,
    conflict: str = "",
    status: int = 200,
) -> Response:
    return page(
        request,
        "files/edit.html",
        {
            "entry": entry,
            "text": text,
            "sha": sha,
            "crlf": crlf,
            "conflict": conflict,
            "folder": parent(entry.path),
            "done": done_words(request),
        },
        status,
    )


async def _current(request: Request, path: str) -> tuple[Any, str, str]:
    """The file's entry, its text and that text's SHA-256. Not text is a VerbInvalid
    (the editor is for text), more than it edits a VerbFailed of kind too large."""
    entry = await verb_gate(request).call(viewer(request), "files.stat", path=path)
    if entry.kind == "folder":
        raise VerbInvalid("This is a folder, not a file.", "EISDIR")
    if entry.size > EDIT_BYTES:
        raise VerbFailed("This file is too large to edit in the browser (over 1 MB).", "EFBIG")
    data, _ = await _open_head(request, entry.path, EDIT_BYTES + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise VerbInvalid(
            "This file is not plain text, so it cannot be edited here.", "binary"
        ) from error
    if "\x00" in text:
        raise VerbInvalid("This file is not plain text, so it cannot be edited here.", "binary")
    return entry, text, hashlib.sha256(data).hexdigest()


async def edit(request: Request) -> Response:
    path = query_path(request)
    entry, text, sha = await _current(request, path)
    return _editor(request, entry, text, sha, "\r\n" in text)


async def save(request: Request) -> Response:
    form = await request.form()
    path = str(form.get("path", ""))[:4096]
    crlf = form.get("crlf") == "1"
    # Browsers send a text area's lines ending in CR LF; keep the file's own endings.
    content = str(form.get("content", ""))
    if not crlf:
        content = content.replace("\r\n", "\n")
    sha = str(form.get("sha256", ""))
    try:
        saved = await verb_gate(request).call(
            viewer(request), "files.save", path=path, content=content, expected_sha256=sha
        )
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        if error.detail != "conflict":
            back = url("/files/edit", path=path)
            return problem(request, "Nothing was saved", error.message, back, status_of(error.kind))
        # Her text stays in the editor; saving again now replaces the version that is
        # there now (its checksum), and still nothing newer than that.
        try:
            entry, _, current = await _current(request, path)
        except VerbError as gone:
            if gone.kind is ErrorKind.UNAVAILABLE:
                raise
            back = url("/files", path=parent(path))
            return problem(request, "Nothing was saved", gone.message, back, status_of(gone.kind))
        status = status_of(error.kind)
        conflict = error.message
        return _editor(request, entry, content, current, crlf, conflict=conflict, status=status)
    return RedirectResponse(url("/files/edit", path=saved.path, done="saved", name=saved.name), 303)


# ---------------------------------------------------------------- disk usage


async def _usage(request: Request, folder: str) -> Any:
    try:
        return await verb_gate(request).call(
            viewer(request), "files.usage", path=folder, seconds=2.0
        )
    except VerbError:
        return None


async def usage(request: Request) -> Response:
    """Disk use of her places (a fragment, loaded after the page so it never waits)."""
    roots = await places(request)
    found = await asyncio.gather(*(_usage(request, place.path) for place in roots))
    rows = [(place, result) for place, result in zip(roots, found, strict=True)]
    return page(request, "files/_usage.html", {"rows": rows})


routes = [
    Route("/files/view", view, methods=["GET"]),
    Route("/files/raw", raw, methods=["GET"]),
    Route("/files/edit", edit, methods=["GET"]),
    Route("/files/edit", save, methods=["POST"]),
    Route("/files/usage", usage, methods=["GET"]),
]
