"""The files tool's tables: ACL shares and public links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from app.models import utcnow


class FileShare(SQLModel, table=True):
    """A file or folder its owner shared with a person or a project group, as POSIX
    ACL entries set by her agent. ``record`` (JSON) says what the share changed where
    (managers/files/sharing.py), so revoking restores exactly that."""

    __tablename__ = "file_shares"

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=64, index=True)
    path: str = Field(max_length=4096)
    grantee_kind: str = Field(max_length=8)  # user | group
    grantee: str = Field(max_length=64, index=True)
    access: str = Field(max_length=8)  # read | write
    record: str = Field(default="{}", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class PublicLink(SQLModel, table=True):
    """A public, read-only link to a file or folder. Only the SHA-256 of the link's
    secret is kept (and a scrypt hash of its optional password), so a leaked database
    opens nothing."""

    __tablename__ = "public_links"

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=64, index=True)
    path: str = Field(max_length=4096)
    kind: str = Field(default="file", max_length=8)  # file | folder
    token_hash: str = Field(max_length=64, unique=True)
    password_hash: str = Field(default="", max_length=255)
    expires_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    downloads: int = 0
