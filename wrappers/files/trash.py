"""The trash: what she deleted, newest first; put back, delete for good, or empty."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.verbs import ErrorKind, VerbError
from app.web.errors import status_of
from wrappers.files.common import page, parent, places, problem, url
from wrappers.request import verb_gate, viewer


async def trash_page(request: Request) -> Response:
    listing = await verb_gate(request).call(viewer(request), "files.trash_list")
    return page(
        request,
        "files/trash.html",
        {
            "items": listing.items,
            "total": listing.total,
            "places": await places(request),
            "done": {"restored": "Put back", "purged": "Deleted for good", "emptied": ""}.get(
                request.query_params.get("done", ""), None
            ),
            "name": request.query_params.get("name", "")[:300],
        },
    )


async def _path(request: Request) -> tuple[str, str]:
    form = await request.form()
    return str(form.get("path", ""))[:4096], str(form.get("on_conflict", "fail"))


async def restore(request: Request) -> Response:
    """Back where it was; if that name is taken meanwhile, she chooses."""
    path, choice = await _path(request)
    try:
        entry = await verb_gate(request).call(
            viewer(request), "files.restore", path=path, on_conflict=choice
        )
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        if error.detail == "EEXIST" and choice == "fail":
            return page(
                request,
                "files/conflict.html",
                {
                    "message": error.message,
                    "action": "/files/trash/restore",
                    "fields": {"path": path},
                    "may_replace": True,
                    "back": "/files/trash",
                },
                409,
            )
        status = status_of(error.kind)
        return problem(request, "It was not put back", error.message, "/files/trash", status)
    return RedirectResponse(
        url("/files", path=parent(entry.path), done="restored", name=entry.name), 303
    )


async def purge(request: Request) -> Response:
    path, _ = await _path(request)
    form = await request.form()
    try:
        await verb_gate(request).call(viewer(request), "files.purge", path=path)
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        status = status_of(error.kind)
        return problem(request, "It was not deleted", error.message, "/files/trash", status)
    name = str(form.get("name", ""))[:300]
    return RedirectResponse(url("/files/trash", done="purged", name=name), 303)


async def empty(request: Request) -> Response:
    try:
        await verb_gate(request).call(viewer(request), "files.trash_empty")
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        status = status_of(error.kind)
        return problem(request, "The trash was not emptied", error.message, "/files/trash", status)
    return RedirectResponse(url("/files/trash", done="emptied"), 303)


routes = [
    Route("/files/trash", trash_page, methods=["GET"]),
    Route("/files/trash/restore", restore, methods=["POST"]),
    Route("/files/trash/purge", purge, methods=["POST"]),
    Route("/files/trash/empty", empty, methods=["POST"]),
]
