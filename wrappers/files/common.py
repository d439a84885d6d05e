"""What every file manager page needs: who is asking, her places, breadcrumbs,
addresses, sizes and dates in words, and the messages shown after an action."""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.auth.profile import viewer_profile
from app.verbs import ErrorKind, VerbError
from app.web.templating import render
from managers.words import size_words
from wrappers.files.verbs.manage import home_of
from wrappers.request import verb_gate, viewer

MAX_PATH = 4096


def home(request: Request) -> str:
    return home_of(viewer(request).unix_name)


@dataclass(frozen=True)
class Place:
    label: str
    path: str
    kind: str  # "home", "project", "trash"


async def places(request: Request) -> list[Place]:
    """Her home and the folders of her project groups that exist (and that she may
    look at): the roots the file manager offers. An outage is raised."""
    found = [Place("Home", home(request), "home")]
    pattern: str = request.app.state.settings.project_folder
    for project in (await viewer_profile(request)).projects:
        folder = pattern.format(project=project)
        try:
            await verb_gate(request).call(viewer(request), "files.stat", path=folder)
        except VerbError as error:
            if error.kind is ErrorKind.UNAVAILABLE:
                raise
            continue
        found.append(Place(f"Project {project}", folder, "project"))
    return found


def crumbs(path: str, roots: list[Place]) -> list[tuple[str, str]]:
    """(label, path) from the nearest place down to ``path``; "/" when in none."""
    best = max(
        (place for place in roots if path == place.path or path.startswith(place.path + "/")),
        key=lambda place: len(place.path),
        default=None,
    )
    start_label, start = (best.label, best.path) if best else ("/", "/")
    trail = [(start_label, start)]
    rest = path[len(start) :].strip("/")
    current = start.rstrip("/")
    for part in rest.split("/") if rest else []:
        current = f"{current}/{part}"
        trail.append((part, current))
    return trail


def url(base: str, **params: Any) -> str:
    """An address with its query: empty and false values are left out."""
    kept = {key: ("1" if value is True else value) for key, value in params.items() if value}
    return f"{base}?{urlencode(kept)}" if kept else base


def query_path(request: Request, name: str = "path") -> str:
    """A path from the address; the gate checks it (and refuses what is not a path)."""
    return request.query_params.get(name, "")[:MAX_PATH]


def parent(path: str) -> str:
    return posixpath.dirname(path.rstrip("/")) or "/"


def join(folder: str, name: str) -> str:
    return posixpath.join(folder, name)


def date_words(stamp: float, now: float | None = None) -> str:
    """ "today 14:05", "yesterday 09:12", "3 Mar 14:05", "3 Mar 2023"."""
    now = now or time.time()
    day = time.localtime(stamp)
    today = time.localtime(now)
    clock = time.strftime("%H:%M", day)
    if day[:3] == today[:3]:
        return f"today {clock}"
    if day[:3] == time.localtime(now - 86400)[:3]:
        return f"yesterday {clock}"
    if day.tm_year == today.tm_year:
        return f"{day.tm_mday} {time.strftime('%b', day)} {clock}"
    return f"{day.tm_mday} {time.strftime('%b %Y', day)}"


# What a finished action says on the page it returns to ("done" in the address;
# only these words can appear, with the name filled in as text).
DONE = {
    "folder": "New folder created: {name}",
    "file": "New file created: {name}",
    "renamed": "Renamed to {name}",
    "moved": "Moved to {name}",
    "copied": "Copied to {name}",
    "trashed": "Moved to the trash: {name}",
    "restored": "Put back: {name}",
    "purged": "Deleted for good: {name}",
    "emptied": "The trash is empty now.",
    "saved": "Saved: {name}",
}


def done_words(request: Request) -> str:
    words = DONE.get(request.query_params.get("done", ""))
    return words.format(name=request.query_params.get("name", "")[:300]) if words else ""


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A file manager page: the shared words and helpers in its context."""
    context = {
        "active": "files",
        "size_words": size_words,
        "date_words": date_words,
        "url": url,
        **context,
    }
    return render(request, name, context, status_code=status)


def problem(
    request: Request, heading: str, text: str, back: str, status: int = 400
) -> HTMLResponse:
    """An action that did not work, in words, with the way back."""
    return page(
        request,
        "files/problem.html",
        {"heading": heading, "text": text, "back": back},
        status,
    )
