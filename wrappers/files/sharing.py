"""Permissions, sharing and publishing pages.

``/files/permissions`` says in plain words who can see an item and changes it
(``files.permissions``, ``files.chmod``; a change to everything inside a folder is
confirmed on a page of its own first); ``/files/share`` shares it with a person or
one of her project groups (``files.share``); ``/files/publish`` makes a public link
(``files.publish``); ``/files/shared`` lists "Shared with me" and "Shared by me" with
the public links, each with a button to stop it. All work goes through verbs.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.auth.profile import viewer_profile
from app.verbs import ErrorKind, VerbError, VerbInvalid
from app.web.errors import status_of
from app.web.templating import render
from wrappers.files.common import home
from wrappers.request import verb_gate, viewer

R, W, X = 4, 2, 1


@dataclass(frozen=True)
class Level:
    key: str
    label: str
    file_mode: int
    folder_mode: int


LEVELS = (
    Level("private", "Only me", 0o600, 0o700),
    Level("group-read", "Me, and my group can read", 0o640, 0o750),
    Level("group-write", "Me, and my group can read and change", 0o660, 0o770),
    Level("all-read", "Everyone on the cluster can read", 0o644, 0o755),
)


def rwx(perms: int) -> str:
    return "".join(
        letter if perms & bit else "-" for letter, bit in zip("rwx", (R, W, X), strict=True)
    )


def mode_rwx(mode: int) -> str:
    """``rwxr-x---`` for 0o750."""
    return rwx((mode >> 6) & 7) + rwx((mode >> 3) & 7) + rwx(mode & 7)


def can_words(perms: int, folder: bool) -> str:
    """What r, w and x mean for a person, in words."""
    if folder:
        if perms & R and perms & X:
            return "can open and change" if perms & W else "can open and read"
        if perms & X:
            return "can pass through (not list)"
        return "cannot open" if not perms & R else "can see the names only"
    if perms & R:
        return "can read and change" if perms & W else "can read"
    return "can change (not read)" if perms & W else "cannot read"


def level_of(mode: int, folder: bool) -> str:
    for level in LEVELS:
        if (level.folder_mode if folder else level.file_mode) == mode & 0o777:
            return level.key
    return "custom"


def _path(request: Request) -> str:
    return request.query_params.get("path", "")[:4096]


async def _shares_of(request: Request, path: str) -> list[Any]:
    try:
        listed = await verb_gate(request).call(viewer(request), "files.shares")
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise
        return []
    return [item for item in listed.shared_by_me if item.path == path]


async def permissions_page(request: Request) -> Response:
    path = _path(request) or home(request)
    # A refusal or an outage is answered by the portal's page for its kind.
    info = await verb_gate(request).call(viewer(request), "files.permissions", path=path)
    folder = info.kind == "folder"
    people = [
        (f"You ({info.owner})" if info.is_owner else info.owner, info.user_obj, "owner"),
        (
            # Most people's own group has only them in it: say so, it is not a project.
            f"Your personal group ({info.group}; only you are in it)"
            if info.group == info.owner
            else f"The group {info.group}",
            info.group_obj,
            "group",
        ),
        ("Everyone else on the cluster", info.other, "other"),
    ]
    return render(
        request,
        "files/permissions.html",
        {
            "active": "files",
            "info": info,
            "name": posixpath.basename(info.path) or info.path,
            "folder": folder,
            "people": [
                (label, perms, can_words(perms, folder), kind) for label, perms, kind in people
            ],
            "shares": await _shares_of(request, info.path),
            "levels": LEVELS,
            "current": level_of((info.user_obj << 6) | (info.group_obj << 3) | info.other, folder),
            "rwx": rwx,
            "mode_rwx": mode_rwx,
            "can_words": can_words,
            "back": "/files?" + urlencode({"path": posixpath.dirname(info.path)}),
            "done": request.query_params.get("done", ""),
        },
    )


def _mode_from(form: Any, folder: bool) -> int | None:
    level = str(form.get("level", ""))
    for choice in LEVELS:
        if choice.key == level:
            return choice.folder_mode if folder else choice.file_mode
    if level != "custom":
        return None
    mode = 0
    for shift, who_ in ((6, "u"), (3, "g"), (0, "o")):
        for bit, letter in ((R, "r"), (W, "w"), (X, "x")):
            if form.get(f"{who_}{letter}"):
                mode |= bit << shift
    return mode


async def change_permissions(request: Request) -> Response:
    form = await request.form()
    path = str(form.get("path", ""))[:4096]
    folder = form.get("kind") == "folder"
    mode = _mode_from(form, folder)
    if mode is None:
        return RedirectResponse("/files/permissions?" + urlencode({"path": path}), status_code=303)
    recursive = folder and bool(form.get("recursive"))
    if recursive and not form.get("confirmed"):
        return render(
            request,
            "files/confirm_permissions.html",
            {
                "active": "files",
                "path": path,
                "name": posixpath.basename(path) or path,
                "mode": mode,
                "mode_rwx": mode_rwx,
                "fields": {key: str(value) for key, value in form.items() if key != "csrf_token"},
            },
        )
    done = await verb_gate(request).call(
        viewer(request), "files.chmod", path=path, mode=mode, recursive=recursive
    )
    note = f"Changed {done.changed} item{'s' if done.changed != 1 else ''}."
    if done.skipped:
        note += (
            f" {done.skipped} belong to someone else or could not be changed;"
            " they were left as they are."
        )
    return RedirectResponse(
        "/files/permissions?" + urlencode({"path": path, "done": note}), status_code=303
    )


async def share_page(request: Request, problem: str = "", status: int = 200) -> Response:
    path = _path(request) or str((await request.form()).get("path", ""))[:4096]
    info = await verb_gate(request).call(viewer(request), "files.permissions", path=path)
    profile = await viewer_profile(request)
    return render(
        request,
        "files/share.html",
        {
            "active": "files",
            "info": info,
            "name": posixpath.basename(info.path) or info.path,
            "projects": profile.projects,
            "shares": await _shares_of(request, info.path),
            "problem": problem,
            "done": request.query_params.get("done", ""),
            "back": "/files?" + urlencode({"path": posixpath.dirname(info.path)}),
        },
        status_code=status,
    )


async def share(request: Request) -> Response:
    form = await request.form()
    path = str(form.get("path", ""))[:4096]
    target = str(form.get("with", ""))
    kind, _, name = target.partition(":")
    if kind == "user":
        name = str(form.get("person", "")).strip()
    if kind not in ("user", "group") or not name:
        return await share_page(request, "Choose a person or one of your project groups.", 400)
    try:
        made = await verb_gate(request).call(
            viewer(request),
            "files.share",
            path=path,
            grantee_kind=kind,
            grantee=name,
            access="write" if form.get("access") == "write" else "read",
        )
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise  # not about what she chose: the page that offers to try again
        words = error.message
        fields = error.fields if isinstance(error, VerbInvalid) else {}
        if fields:
            words = "; ".join(fields.values())
            if "grantee" in fields and kind == "user":
                words = "That is not a cluster account name (for example: bob)."
        return await share_page(request, words, status_of(error.kind))
    whom = f"the group {made.grantee}" if made.grantee_kind == "group" else made.grantee
    note = f"Shared with {whom} ({'read and change' if made.access == 'write' else 'read only'})."
    if made.skipped:
        note += f" {made.skipped} items inside belong to someone else and were left as they are."
    return RedirectResponse(
        "/files/share?" + urlencode({"path": path, "done": note}), status_code=303
    )


async def unshare(request: Request) -> Response:
    form = await request.form()
    back = str(form.get("back", "/files/shared"))
    if not back.startswith("/files/") or back.startswith("//"):
        back = "/files/shared"
    result = await verb_gate(request).call(
        viewer(request), "files.unshare", share_id=request.path_params["id"]
    )
    note = "Stopped sharing."
    if result.problems:
        note += " Some items could not be reached and were left as they are: " + ", ".join(
            result.problems[:3]
        )
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(back + joiner + urlencode({"done": note}), status_code=303)


async def shared_page(request: Request) -> Response:
    listed = await verb_gate(request).call(viewer(request), "files.shares")
    return render(
        request,
        "files/shared.html",
        {
            "active": "files",
            "listed": listed,
            "done": request.query_params.get("done", ""),
        },
    )


async def publish_page(request: Request, problem: str = "", status: int = 200) -> Response:
    path = _path(request) or str((await request.form()).get("path", ""))[:4096]
    info = await verb_gate(request).call(viewer(request), "files.permissions", path=path)
    return render(
        request,
        "files/publish.html",
        {
            "active": "files",
            "info": info,
            "name": posixpath.basename(info.path) or info.path,
            "problem": problem,
            "back": "/files?" + urlencode({"path": posixpath.dirname(info.path)}),
        },
        status_code=status,
    )


async def publish(request: Request) -> Response:
    form = await request.form()
    path = str(form.get("path", ""))[:4096]
    days_text = str(form.get("days", "")).strip()
    try:
        made = await verb_gate(request).call(
            viewer(request),
            "files.publish",
            path=path,
            days=int(days_text) if days_text.isdigit() else None,
            password=str(form.get("password", "")),
        )
    except VerbError as error:
        if error.kind is ErrorKind.UNAVAILABLE:
            raise  # not about what she chose: the page that offers to try again
        fields = error.fields if isinstance(error, VerbInvalid) else {}
        words = "; ".join(fields.values()) if fields else error.message
        return await publish_page(request, words, status_of(error.kind))
    address = f"{request.app.state.settings.public_url}/p/{made.secret}"
    return render(
        request,
        "files/published.html",
        {
            "active": "files",
            "link": made.link,
            "address": address,
            "name": posixpath.basename(path) or path,
        },
    )


async def unpublish(request: Request) -> Response:
    await verb_gate(request).call(
        viewer(request), "files.unpublish", link_id=request.path_params["id"]
    )
    return RedirectResponse(
        "/files/shared?" + urlencode({"done": "The link no longer works."}), status_code=303
    )


routes = [
    Route("/files/permissions", permissions_page, methods=["GET"]),
    Route("/files/permissions", change_permissions, methods=["POST"]),
    Route("/files/share", share_page, methods=["GET"]),
    Route("/files/share", share, methods=["POST"]),
    Route("/files/shares/{id:int}/stop", unshare, methods=["POST"]),
    Route("/files/shared", shared_page, methods=["GET"]),
    Route("/files/publish", publish_page, methods=["GET"]),
    Route("/files/publish", publish, methods=["POST"]),
    Route("/files/links/{id:int}/revoke", unpublish, methods=["POST"]),
]
