"""Transfers and connections as pages show them: no secret is a field here."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.models import utcnow
from managers.data.progress import TransferState
from wrappers.data.models import Transfer

__all__ = ["BrowseResult", "ConnectionList", "ConnectionView", "TransferList", "TransferView"]

STATE_WORDS = {
    TransferState.WAITING: "waiting",
    TransferState.RUNNING: "running",
    TransferState.VERIFYING: "verifying",
    TransferState.DONE: "done",
    TransferState.FAILED: "failed",
    TransferState.CANCELLED: "cancelled",
}


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; everything here is timezone-aware."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=utcnow().tzinfo)
    return moment


class TransferView(BaseModel):
    id: str
    owner: str
    direction: str
    kind: str
    summary: str
    local_path: str
    unpack: bool = False
    state: TransferState
    bytes_done: int = 0
    bytes_total: int | None = None
    files_done: int = 0
    files_total: int | None = None
    rate: float = 0.0
    current: str = ""
    message: str = ""
    error: str = ""
    verified: bool = False
    offered_host_key: str = ""
    offered_fingerprint: str = ""
    runs_as: str = "agent"
    job_id: str | None = None
    retries: int = 0
    results: list[str] = []
    connection_id: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @classmethod
    def of(cls, row: Transfer) -> TransferView:
        try:
            results = [str(item) for item in json.loads(row.results or "[]")][:100]
        except ValueError:
            results = []
        return cls(
            id=row.id,
            owner=row.owner,
            direction=row.direction,
            kind=row.kind,
            summary=row.summary,
            local_path=row.local_path,
            unpack=row.unpack,
            state=TransferState(row.state),
            bytes_done=row.bytes_done,
            bytes_total=row.bytes_total,
            files_done=row.files_done,
            files_total=row.files_total,
            rate=row.rate,
            current=row.current,
            message=row.message,
            error=row.error,
            verified=row.verified,
            offered_host_key=row.offered_host_key,
            offered_fingerprint=row.offered_fingerprint,
            runs_as=row.runs_as,
            job_id=row.job_id,
            retries=row.retries,
            results=results,
            connection_id=row.connection_id,
            created_at=aware(row.created_at) or utcnow(),
            started_at=aware(row.started_at),
            ended_at=aware(row.ended_at),
        )

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @property
    def words(self) -> str:
        return STATE_WORDS.get(self.state, str(self.state))

    @property
    def percent(self) -> int | None:
        if not self.bytes_total:
            return 100 if self.state is TransferState.DONE else None
        return max(0, min(100, int(self.bytes_done * 100 / self.bytes_total)))

    @property
    def seconds_left(self) -> int | None:
        if self.is_final or not self.bytes_total or self.rate <= 0:
            return None
        return max(0, int((self.bytes_total - self.bytes_done) / self.rate))

    @property
    def can_cancel(self) -> bool:
        return not self.is_final

    @property
    def can_retry(self) -> bool:
        return self.state in (TransferState.FAILED, TransferState.CANCELLED)

    @property
    def title(self) -> str:
        where = "into" if self.direction == "import" else "from"
        verb = "Import" if self.direction == "import" else "Export"
        return f"{verb} {where} {self.local_path}"


class TransferList(BaseModel):
    transfers: list[TransferView]
    limit: int = 0

    @property
    def active(self) -> list[TransferView]:
        return [t for t in self.transfers if not t.is_final]


class ConnectionView(BaseModel):
    """A saved or site connection: its plain fields, and which secrets are saved
    (their names only: "saved, hidden")."""

    id: str
    name: str
    kind: str
    fields: dict[str, Any]
    secrets_saved: list[str]
    site: bool = False


class ConnectionList(BaseModel):
    connections: list[ConnectionView]
    # Whether this portal can keep secrets (data.secret_key is set).
    can_save: bool = True


class Entry(BaseModel):
    name: str
    kind: str  # file | folder
    size: int | None = None


class HostKey(BaseModel):
    key: str
    fingerprint: str


class BrowseResult(BaseModel):
    path: str = ""
    entries: list[Entry] = []
    host_key_unknown: HostKey | None = None
    error: str = ""
    code: str = ""
