"""What a worker reports: one ``progress.json`` per transfer, rewritten whole.

The worker (detached from the agent, or inside a Slurm job) writes this file in the
transfer's folder at least once a second while it runs (tmp file, fsync, rename: a
reader never sees half of one) and once more when it ends. The portal reads it
through her agent (``data.progress``), stores what it read in its own database and
redraws the Data page; so the record survives a portal restart, and a job-based
transfer keeps going without the portal.

``heartbeat`` is the worker's clock at the last write. A transfer whose file says
``running`` but whose worker is gone (no such pid on that host, or a heartbeat older
than ``STALE_SECONDS``) is shown as failed with "retry", never as running forever.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["STALE_SECONDS", "Check", "Progress", "TransferState"]

STALE_SECONDS = 20.0
"""A running worker writes every second; this much silence means it is gone."""


class TransferState(StrEnum):
    WAITING = "waiting"  # accepted; its job is queued, or its worker not yet started
    RUNNING = "running"
    VERIFYING = "verifying"  # bytes are in; sizes and checksums are being compared
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in {TransferState.DONE, TransferState.FAILED, TransferState.CANCELLED}


class Check(BaseModel):
    """One file's integrity check, as really made (never claimed without running)."""

    model_config = ConfigDict(frozen=True)

    path: str  # relative to the transfer's local folder (import) or source (export)
    size: int
    # "size", "sha256", "md5" (an S3 single-part ETag), "git" (git's own hashes).
    method: str
    ok: bool


class Progress(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: TransferState
    bytes_done: int = 0
    bytes_total: int | None = None  # None until the source says
    files_done: int = 0
    files_total: int | None = None
    rate: float = 0.0  # bytes per second, smoothed over the last few seconds
    current: str | None = None  # the file being moved now, relative
    # Plain words for her: why it failed, or what it is doing ("Unpacking...").
    message: str | None = None
    # A stable code for programs and tests: "refused_address", "host_key_unknown",
    # "not_found", "auth", "no_space", "quota", "archive_unsafe", "too_large",
    # "cancelled", "network", "failed".
    error: str | None = None
    # host_key_unknown: the key the server offered ("ssh-ed25519 AAAA...") and its
    # SHA-256 fingerprint as ssh-keygen prints it, for her to accept.
    offered_host_key: str | None = None
    offered_fingerprint: str | None = None
    # True only when every file had a check beyond its size, and each passed.
    verified: bool = False
    checks: tuple[Check, ...] = Field(default=(), max_length=10_000)
    # What is now in her folder (import), relative to local_path; the first thousand.
    results: tuple[str, ...] = Field(default=(), max_length=1000)
    pid: int | None = None
    host: str | None = None
    heartbeat: float = 0.0  # time.time() of the write
    started_at: float | None = None
    ended_at: float | None = None
