"""The file manager's verbs: a sorted page of a folder, new folders and files, move,
the trash, saving with a conflict check, and disk usage.

Like the other file verbs, Casbin decides whether the verb may be used on the path
and the person's agent does the work as them (managers/files/manage.py, listing.py),
so the kernel has the last word. Everything that changes something needs ``write``
on every path it changes (a move: where from and where to).
"""

from __future__ import annotations

import pwd
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from app.security.sessions import Identity
from app.verbs.catalog import NoArgs, Verb
from wrappers.files.verbs.basic import COLUMNS, Columns, Entry, PathArgs, the_destination, the_path

Conflict = Literal["fail", "keep-both", "replace"]


class PageArgs(PathArgs):
    order: Literal["name", "size", "modified", "folder"] = "name"
    descending: bool = False
    hidden: bool = False
    filter: str = Field(default="", max_length=255)
    cursor: str = Field(default="", max_length=8192)
    limit: int = Field(default=200, ge=1, le=1000)


class PageEntry(Entry):
    link: bool = False


class Page(Columns):
    """One page of a folder as columns (managers/files/listing.list_page). ``cursor``
    asks for the next page ("" at the end); ``total`` counts every matching entry
    (None in folder order, which never reads more than the page)."""

    columns: ClassVar[dict[str, str]] = {**COLUMNS, "links": "link"}

    cursor: str
    total: int | None
    links: list[bool]

    def entries(self) -> list[PageEntry]:
        return [PageEntry(**row) for row in self.rows()]


class NewArgs(PathArgs):
    on_conflict: Literal["fail", "keep-both"] = "fail"


class MoveArgs(BaseModel):
    path: str = Field(min_length=1, max_length=4096)
    destination: str = Field(min_length=1, max_length=4096)
    on_conflict: Conflict = "fail"


class RestoreArgs(PathArgs):
    on_conflict: Conflict = "fail"


class TrashItem(BaseModel):
    path: str  # where it is now, inside the trash
    name: str
    original: str
    deleted: str
    kind: Literal["file", "folder"]
    size: int


class TrashListArgs(BaseModel):
    limit: int = Field(default=1000, ge=1, le=5000)


class TrashListing(BaseModel):
    items: list[TrashItem]
    total: int


class Removed(BaseModel):
    removed: int


class SaveArgs(PathArgs):
    content: str = Field(max_length=8 * 1024 * 1024)
    # SHA-256 of the bytes she opened; "" when she is creating the file.
    expected_sha256: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")


class Saved(Entry):
    sha256: str


class UsageArgs(PathArgs):
    seconds: float = Field(default=2.0, ge=0.1, le=10.0)


class Usage(BaseModel):
    path: str
    used: int
    entries: int
    complete: bool
    disk_size: int
    disk_free: int
    quota_used: int | None = None
    quota_limit: int | None = None


class WatchArgs(PathArgs):
    # Well under the agent client's timeout (60 s): the wait is an ordinary call.
    seconds: float = Field(default=25.0, ge=0.1, le=30.0)
    since: int = Field(default=0, ge=0)


class Watched(BaseModel):
    """Whether the folder changed during the wait; ``version`` goes back as ``since``."""

    changed: bool
    version: int


def home_of(unix_name: str) -> str:
    """Her home folder from the passwd database (the agent finds the same one)."""
    try:
        return pwd.getpwnam(unix_name).pw_dir
    except KeyError:
        return f"/home/{unix_name}"


def trash_of(unix_name: str) -> str:
    return f"{home_of(unix_name).rstrip('/')}/.local/share/Trash"


async def her_trash(args: Any, identity: Identity, services: Any) -> str:
    return trash_of(identity.unix_name)


def _verb(
    name: str, args: type[BaseModel], result: type[BaseModel], action: str, **more: Any
) -> Verb[Any, Any]:
    return Verb(name, args, result, "file", action, more.pop("target", the_path), op=name, **more)


VERBS: tuple[Verb[Any, Any], ...] = (
    _verb("files.page", PageArgs, Page, "list"),
    _verb("files.mkdir", NewArgs, Entry, "write"),
    _verb("files.create", NewArgs, Entry, "write"),
    # Rename and move: a change where it goes and where it was.
    _verb("files.move", MoveArgs, Entry, "write", target=the_destination, writes=("path",)),
    _verb("files.trash", PathArgs, TrashItem, "write"),
    _verb("files.trash_list", TrashListArgs, TrashListing, "list", target=her_trash),
    _verb("files.restore", RestoreArgs, Entry, "write"),
    _verb("files.purge", PathArgs, Removed, "write"),
    _verb("files.trash_empty", NoArgs, Removed, "write", target=her_trash),
    _verb("files.save", SaveArgs, Saved, "write"),
    _verb("files.usage", UsageArgs, Usage, "stat"),
    # Live folders: one long wait per open folder tab, audited like every call.
    _verb("files.watch", WatchArgs, Watched, "list"),
)
