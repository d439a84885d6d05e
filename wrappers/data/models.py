"""The Data tool's tables: transfers and saved connections.

A ``Transfer`` row is the portal's record of one transfer: what she asked for (in
words without secrets), where its worker runs (her agent's pid and host, or a Slurm
job), and what the worker last reported. It outlives the portal process: the
monitor takes up every unfinished row at start (a job-based transfer is found again
by its job). Secrets are never in a column of their own: ``secret_blob`` is sealed
by ``vault.py`` and bound to the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models import utcnow


class Transfer(SQLModel, table=True):
    __tablename__ = "data_transfers"

    id: str = Field(primary_key=True, max_length=16)
    owner: str = Field(max_length=64, index=True)
    direction: str = Field(max_length=8)  # import | export
    kind: str = Field(max_length=8)  # url | s3 | sftp | webdav | git
    # Where from or to, in words for her list ("https://host/a.tar.gz and 2 more").
    summary: str = Field(default="", max_length=1024)
    # The endpoint's plain fields (JSON, no secrets), for Retry and for the page.
    endpoint: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    # Secrets she typed for this transfer alone (not a saved connection's), sealed.
    secret_blob: str = Field(default="", sa_column=Column(Text, nullable=False))
    connection_id: str | None = Field(default=None, max_length=48)
    local_path: str = Field(max_length=4096)
    unpack: bool = False
    # A managers.data.progress.TransferState value.
    state: str = Field(default="waiting", max_length=16, index=True)
    bytes_done: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    bytes_total: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    files_done: int = 0
    files_total: int | None = None
    rate: float = 0.0
    current: str = Field(default="", max_length=1024)
    message: str = Field(default="", max_length=1024)
    error: str = Field(default="", max_length=32)
    offered_host_key: str = Field(default="", max_length=4096)
    offered_fingerprint: str = Field(default="", max_length=128)
    verified: bool = False
    # What arrived in her folder (JSON list, the first hundred), for "Show in files".
    results: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    # agent | job: who runs the worker.
    runs_as: str = Field(default="agent", max_length=8)
    job_id: str | None = Field(default=None, max_length=32, index=True)
    pid: int | None = None
    host: str | None = Field(default=None, max_length=255)
    # Where the end is e-mailed ("" : the bell only).
    notify_email: str = Field(default="", max_length=320)
    retries: int = 0
    # The form's one-time token: a double click starts one transfer.
    token: str = Field(max_length=64, index=True, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class DataConnection(SQLModel, table=True):
    """A connection she saved under a name (S3, SFTP, WebDAV). Its secrets are sealed
    in ``secret_blob`` and go when the row goes."""

    __tablename__ = "data_connections"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_data_connections_owner_name"),)

    id: str = Field(primary_key=True, max_length=16)
    owner: str = Field(max_length=64, index=True)
    name: str = Field(max_length=64)
    kind: str = Field(max_length=8)
    fields: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    secret_blob: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
