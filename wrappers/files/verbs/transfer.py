"""Transfer verbs: uploads in checked pieces, and zips of folders.

Downloads of one file use ``files.read`` (an open descriptor). An upload is four
verbs on one hidden part file in the chosen folder (managers/files/transfer.py):
start (checks room and quota first), open (a read-write descriptor the portal writes
checked chunks into), finish (the final name, with the conflict rule) and cancel.
Policy sees the final path of the file (``write``); a zip is a ``read`` of the
folder its items are in.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.security.sessions import Identity
from app.verbs.catalog import Verb
from app.verbs.descriptors import OpenFile
from managers.errors import OperationError
from managers.files.transfer import check_name
from wrappers.files.verbs.basic import Entry, the_path

Conflict = Literal["fail", "replace", "keep-both"]


class UploadArgs(BaseModel):
    """``path`` is the chosen folder; ``name`` the file's name inside it, which may
    name subfolders (``results/run1.csv``, from an uploaded folder) but never leave it."""

    path: str = Field(min_length=1, max_length=4096)
    name: str = Field(min_length=1, max_length=4096)
    token: str = Field(pattern=r"^[0-9a-f]{32}$")

    @field_validator("name")
    @classmethod
    def _inside(cls, value: str) -> str:
        try:
            check_name(value)
        except OperationError as error:
            raise ValueError(error.message) from error
        return value


class UploadFinishArgs(UploadArgs):
    length: int = Field(ge=0)
    conflict: Conflict = "keep-both"


class UploadStartArgs(UploadFinishArgs):
    # Part files in the folder untouched this long are removed first (0: never);
    # the portal passes files.abandoned_upload_days.
    abandoned_days: int = Field(default=7, ge=0, le=3650)


class UploadStarted(BaseModel):
    token: str
    offset: int


class Cancelled(BaseModel):
    cancelled: bool


class ZipArgs(BaseModel):
    """Items (single names) directly inside the folder ``path``."""

    path: str = Field(min_length=1, max_length=4096)
    names: list[str] = Field(min_length=1, max_length=10000)

    @field_validator("names")
    @classmethod
    def _plain_names(cls, value: list[str]) -> list[str]:
        for name in value:
            try:
                parts = check_name(name)
            except OperationError as error:
                raise ValueError(error.message) from error
            if len(parts) != 1:
                raise ValueError("Choose items directly inside one folder.")
        return value


async def the_file(args: Any, identity: Identity, services: Any) -> str:
    return f"{str(args.path).rstrip('/')}/{args.name}"


VERBS: tuple[Verb[Any, Any], ...] = (
    Verb(
        "files.upload_start",
        UploadStartArgs,
        UploadStarted,
        "file",
        "write",
        the_file,
        op="files.upload_start",
    ),
    Verb(
        "files.upload_open",
        UploadArgs,
        OpenFile,
        "file",
        "write",
        the_file,
        op="files.upload_open",
        returns_fd=True,
    ),
    Verb(
        "files.upload_finish",
        UploadFinishArgs,
        Entry,
        "file",
        "write",
        the_file,
        op="files.upload_finish",
    ),
    Verb(
        "files.upload_cancel",
        UploadArgs,
        Cancelled,
        "file",
        "write",
        the_file,
        op="files.upload_cancel",
    ),
    Verb("files.zip", ZipArgs, OpenFile, "file", "read", the_path, op="files.zip", returns_fd=True),
)
