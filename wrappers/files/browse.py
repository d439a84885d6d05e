"""The file manager's folder page and the folder operations on it.

The page shows the first page of the folder at once; later pages arrive as she
scrolls (htmx, ``cursor``). Sorting, the filter and the hidden-files switch redraw
only the listing. New folder/file, rename, move, copy and delete are plain forms
that come back to the folder with a sentence saying what happened; a name clash
asks "replace, keep both or cancel" instead of guessing.
"""

from __future__ import annotations

import posixpath
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.verbs import ErrorKind, VerbError
from app.web.errors import status_of
from wrappers.files.common import (
    crumbs,
    done_words,
    home,
    join,
    page,
    parent,
    places,
    problem,
    query_path,
    url,
)
from wrappers.request import verb_gate, viewer

PAGE = 200
# A live redraw fetches as many rows as the tab has loaded, up to this many (the most
# files.page gives at once); a tab scrolled further is not redrawn.
MAX_ROWS = 5000
ORDERS = ("name", "size", "modified", "folder")
ORDER_WORDS = {"name": "Name", "size": "Size", "modified": "Modified"}


def _options(request: Request) -> dict[str, Any]:
    params = request.query_params
    order = params.get("order", "name")
    return {
        "order": order if order in ORDERS else "name",
        "desc": params.get("desc") == "1",
        "hidden": params.get("hidden") == "1",
        "q": params.get("q", "")[:255],
    }


def page_arguments(options: dict[str, Any]) -> dict[str, Any]:
    """The files.page arguments for a listing's options (the page's and live.py's)."""
    return {
        "order": options["order"],
        "descending": options["desc"],
        "hidden": options["hidden"],
        "filter": options["q"],
    }


def listing_context(listing: Any, options: dict[str, Any]) -> dict[str, Any]:
    """What files/_listing.html needs: for the page, and for its live refresh (live.py)."""
    here = {"path": listing.path, **options}
    return {
        **here,
        "here": here,
        "entries": listing.entries(),
        "total": listing.total,
        "next_url": url("/files", cursor=listing.cursor, **here) if listing.cursor else "",
        "order_words": ORDER_WORDS,
        "parent": parent(listing.path),
        "page_size": PAGE,
        "max_rows": MAX_ROWS,
    }


async def browse(request: Request) -> Response:
    """The folder page, or (htmx) just its listing, or (scrolling) its next rows."""
    path = query_path(request) or home(request)
    options = _options(request)
    cursor = request.query_params.get("cursor", "")[:8192]
    rows = request.query_params.get("rows", "")[:6]
    # A live redraw of a tab that loaded more than the first page (static/app.js).
    limit = min(max(int(rows), PAGE), MAX_ROWS) if rows.isdigit() and not cursor else PAGE
    fragment = request.headers.get("hx-request") == "true" and not request.headers.get(
        "hx-history-restore-request"
    )
    try:
        listing = await verb_gate(request).call(
            viewer(request),
            "files.page",
            path=path,
            **page_arguments(options),
            cursor=cursor,
            limit=limit,
        )
    except VerbError as error:
        if error.detail == "ENOTDIR":  # a file: show it instead
            return RedirectResponse(url("/files/view", path=path), status_code=303)
        if fragment:  # more rows, or a redraw: the problem in the rows' place
            return page(request, "files/_error_row.html", {"message": error.message})
        raise  # the portal's page for its kind (app/web/errors.py)
    path = listing.path
    context = listing_context(listing, options)
    if cursor:
        return page(request, "files/_rows.html", context)
    if fragment and request.headers.get("hx-target") == "listing":
        return page(request, "files/_listing.html", context)
    roots = await places(request)
    return page(
        request,
        "files/browse.html",
        {
            **context,
            "places": roots,
            "crumbs": crumbs(path, roots),
            "done": done_words(request),
            "undo": request.query_params.get("undo", "")[:4096],
            "at_home": path == home(request),
        },
    )


def _back(folder: str, done: str, name: str, **more: str) -> Response:
    return RedirectResponse(url("/files", path=folder, done=done, name=name, **more), 303)


def _name_problem(name: str) -> str:
    """Why ``name`` cannot be a file name, or ""."""
    if not name.strip():
        return "Please type a name."
    if "/" in name or name in (".", ".."):
        return "A name cannot contain / or be . or .."
    if len(name.encode()) > 255:
        return "This name is too long (at most 255 bytes)."
    if any(ord(char) < 32 for char in name):
        return "A name cannot contain line breaks or other control characters."
    return ""


async def _form(request: Request) -> dict[str, str]:
    posted = await request.form()
    return {key: str(value)[:4096] for key, value in posted.items() if key != "csrf_token"}


def _conflict(
    request: Request, error: VerbError, action: str, fields: dict[str, str], back: str
) -> Response:
    """Name taken: replace (the old one goes to the trash), keep both, or cancel."""
    return page(
        request,
        "files/conflict.html",
        {
            "message": error.message,
            "action": action,
            "fields": {key: value for key, value in fields.items() if key != "on_conflict"},
            "may_replace": action != "/files/new",
            "back": back,
        },
        409,
    )


async def new(request: Request) -> Response:
    """A new folder or an empty file in ``folder``."""
    form = await _form(request)
    folder, name = form.get("folder", ""), form.get("name", "").strip()
    kind = "folder" if form.get("kind") == "folder" else "file"
    back = url("/files", path=folder)
    wrong = _name_problem(name)
    if wrong:
        return problem(request, f"The new {kind} was not created", wrong, back)
    verb = "files.mkdir" if kind == "folder" else "files.create"
    choice = form.get("on_conflict", "fail")
    try:
        made = await verb_gate(request).call(
            viewer(request), verb, path=join(folder, name), on_conflict=choice
        )
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        if error.detail == "EEXIST" and choice == "fail":
            return _conflict(request, error, "/files/new", form, back)
        heading = f"The new {kind} was not created"
        return problem(request, heading, error.message, back, status_of(error.kind))
    return _back(parent(made.path), kind, made.name)


async def action_form(request: Request) -> Response:
    """Rename, move or copy one item: a small form that says what will happen."""
    path = query_path(request)
    what = request.url.path.rsplit("/", 1)[-1]
    if what not in ("rename", "move", "copy") or not path:
        return problem(request, "Nothing to do", "Choose a file or folder first.", "/files", 404)
    entry = await verb_gate(request).call(viewer(request), "files.stat", path=path)
    return page(
        request,
        "files/action.html",
        {
            "what": what,
            "entry": entry,
            "folder": parent(entry.path),
            "places": await places(request),
        },
    )


async def act(request: Request) -> Response:
    """Carry out rename, move or copy."""
    what = request.url.path.rsplit("/", 1)[-1]
    form = await _form(request)
    path = form.get("path", "")
    folder = parent(path)
    back = url("/files", path=folder)
    choice = form.get("on_conflict", "fail")
    if what == "rename":
        name = form.get("name", "").strip()
        wrong = _name_problem(name)
        if wrong:
            return problem(request, "It was not renamed", wrong, back)
        destination = join(folder, name)
    elif what in ("move", "copy"):
        target = form.get("folder", "").strip()
        if not target.startswith("/"):
            return problem(request, f"Nothing was {what}d", "Please choose a folder.", back)
        destination = join(target, posixpath.basename(path.rstrip("/")))
    else:
        return problem(request, "Nothing to do", "This action does not exist.", back, 404)
    verb = "files.copy" if what == "copy" else "files.move"
    headings = {
        "rename": "It was not renamed",
        "move": "Nothing was moved",
        "copy": "Nothing was copied",
    }
    try:
        result = await verb_gate(request).call(
            viewer(request), verb, path=path, destination=destination, on_conflict=choice
        )
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        if error.detail == "EEXIST" and choice == "fail":
            return _conflict(request, error, f"/files/{what}", form, back)
        return problem(request, headings[what], error.message, back, status_of(error.kind))
    done = {"rename": "renamed", "move": "moved", "copy": "copied"}[what]
    # A rename stays in the folder; a move or copy shows where it went.
    return _back(parent(result.path), done, result.name)


async def delete(request: Request) -> Response:
    """To the trash (asked "are you sure?" in the page first); the message offers undo."""
    form = await _form(request)
    path = form.get("path", "")
    back = url("/files", path=parent(path))
    try:
        item = await verb_gate(request).call(viewer(request), "files.trash", path=path)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return problem(request, "It was not deleted", error.message, back, status_of(error.kind))
    return _back(parent(path), "trashed", item.name, undo=item.path)


routes = [
    Route("/files", browse, methods=["GET"]),
    Route("/files/new", new, methods=["POST"]),
    Route("/files/delete", delete, methods=["POST"]),
    *(Route(f"/files/{what}", action_form, methods=["GET"]) for what in ("rename", "move", "copy")),
    *(Route(f"/files/{what}", act, methods=["POST"]) for what in ("rename", "move", "copy")),
]
