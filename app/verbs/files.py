"""File verbs. Casbin says whether the verb may be used on a path at all; the
person's agent then does it as them, and the kernel has the last word."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.security.sessions import Identity
from app.verbs.catalog import Verb, register


class PathArgs(BaseModel):
    path: str = Field(min_length=1, max_length=4096)


class ListArgs(PathArgs):
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=1000, ge=1, le=5000)


class WriteArgs(PathArgs):
    content: str = Field(max_length=8 * 1024 * 1024)
    replace: bool = False


class Entry(BaseModel):
    name: str
    path: str
    kind: str
    size: int
    mode: int
    uid: int
    gid: int
    modified: float


class Listing(BaseModel):
    path: str
    entries: list[Entry]
    more: bool


class OpenFile(BaseModel):
    """An open, read-only descriptor; the caller must close it."""

    fd: int


async def the_path(args: Any, identity: Identity, services: Any) -> str:
    return str(args.path)


register(
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
)
