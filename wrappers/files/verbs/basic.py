"""File verbs. Casbin says whether the verb may be used on a path at all; the
person's agent then does it as them, and the kernel has the last word."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, Field, model_validator

from app.security.sessions import Identity
from app.verbs.catalog import Verb
from app.verbs.descriptors import OpenFile


class PathArgs(BaseModel):
    path: str = Field(min_length=1, max_length=4096)


class ListArgs(PathArgs):
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=1000, ge=1, le=5000)


class WriteArgs(PathArgs):
    content: str = Field(max_length=8 * 1024 * 1024)
    replace: bool = False


class CopyArgs(BaseModel):
    path: str = Field(min_length=1, max_length=4096)
    destination: str = Field(min_length=1, max_length=4096)
    # When the destination's name is taken: say so, "name (2)", or trash the old one.
    on_conflict: Literal["fail", "keep-both", "replace"] = "fail"


class Entry(BaseModel):
    name: str
    path: str
    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    modified: float


# Column name (plural) -> Entry field: folders travel as columns, not objects.
COLUMNS = {
    "names": "name",
    "kinds": "kind",
    "sizes": "size",
    "modes": "mode",
    "uids": "uid",
    "gids": "gid",
    "modified": "modified",
}


class Columns(BaseModel):
    """A folder's entries as one list per field: a page of thousands of entries is
    far smaller (and faster to check) as columns than as one object each."""

    columns: ClassVar[dict[str, str]] = COLUMNS

    path: str
    names: list[str]
    kinds: list[Literal["file", "folder"]]
    sizes: list[int]
    modes: list[int]
    uids: list[int]
    gids: list[int]
    modified: list[float]

    @model_validator(mode="after")
    def _same_length(self) -> Self:
        if any(len(getattr(self, column)) != len(self.names) for column in self.columns):
            raise ValueError("the folder's columns differ in length")
        return self

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each entry as Entry's fields, with its full path."""
        folder = self.path.rstrip("/")
        values = [getattr(self, column) for column in self.columns]
        for row in zip(*values, strict=True):
            fields = dict(zip(self.columns.values(), row, strict=True))
            yield {**fields, "path": f"{folder}/{fields['name']}"}


class Listing(Columns):
    """One page of a folder (see managers/files/operations.list_folder)."""

    more: bool

    def entries(self) -> list[Entry]:
        return [Entry(**row) for row in self.rows()]


async def the_path(args: Any, identity: Identity, services: Any) -> str:
    return str(args.path)


async def the_destination(args: Any, identity: Identity, services: Any) -> str:
    return str(args.destination)


VERBS: tuple[Verb[Any, Any], ...] = (
    Verb("files.stat", PathArgs, Entry, "file", "stat", the_path, op="files.stat"),
    Verb("files.list", ListArgs, Listing, "file", "list", the_path, op="files.list"),
    Verb(
        "files.read",
        PathArgs,
        OpenFile,
        "file",
        "read",
        the_path,
        op="files.read",
        returns_fd=True,
    ),
    Verb("files.write", WriteArgs, Entry, "file", "write", the_path, op="files.write"),
    # Reading the source is checked by the kernel in the agent; policy decides on the
    # place written to. Heavy: counted against the person's cap, and sent to a compute
    # node when the site sets agents.heavy_partition.
    Verb(
        "files.copy",
        CopyArgs,
        Entry,
        "file",
        "write",
        the_destination,
        op="files.copy",
        heavy=True,
        reads=("path",),
    ),
)
