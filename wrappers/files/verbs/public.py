"""What a public link opens: the published item, read by its owner's agent as her.

Nobody is signed in on ``/p/<secret>``, so these verbs are called by the link's page
as the files tool's service principal, for the link's owner (``call_as_service``),
once the page has checked the link itself (the secret's hash, expiry, revocation,
the password: wrappers/files/public_links.py). Policy gives the ``read-published``
action to that principal alone, so no person can call them to read through a link
that is not there, and the principal can do nothing else with anyone's files. Her
agent walks down from the published item refusing every symlink and ``..``
(managers/files/sharing.py), so nothing outside what she published is read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.security.sessions import Identity
from app.verbs.catalog import Verb
from app.verbs.descriptors import OpenFile

# The files tool's part that acts for a link's owner (Tool.principals).
PUBLIC_LINKS = "service:public-links"
# What policy is asked: may this subject read what a live link publishes?
READ_PUBLISHED = "read-published"


class PublicArgs(BaseModel):
    # The published item (the link's path), and a place inside a published folder.
    root: str = Field(min_length=1, max_length=4096)
    relative: str = Field(default="", max_length=4096)


class PublicItem(BaseModel):
    name: str
    kind: Literal["file", "folder"]
    size: int = Field(ge=0)


class PublicListing(BaseModel):
    """A published file (its size) or folder (its items of the owner's own)."""

    kind: Literal["file", "folder"]
    size: int = Field(default=0, ge=0)
    items: list[PublicItem] = Field(default_factory=list)


async def published_item(args: Any, identity: Identity, services: Any) -> str:
    """The item asked for, so the audit row names it; her agent refuses any way out."""
    root = str(args.root)
    return f"{root.rstrip('/')}/{args.relative}" if args.relative else root


VERBS: tuple[Verb[Any, Any], ...] = (
    Verb(
        "files.public_open",
        PublicArgs,
        OpenFile,
        "file",
        READ_PUBLISHED,
        published_item,
        op="files.public_open",
        returns_fd=True,
        description="A read-only descriptor of a published file, opened as its owner.",
    ),
    Verb(
        "files.public_list",
        PublicArgs,
        PublicListing,
        "file",
        READ_PUBLISHED,
        published_item,
        op="files.public_list",
        description="What a published folder holds of its owner's own, or a file's size.",
    ),
)
