"""The notebooks tool's table: the Jupyter sessions it started."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models import utcnow
from wrappers.notebooks.states import SessionState


class NotebookSession(SQLModel, table=True):
    """A Jupyter server the portal started for someone as a Slurm job (wrappers/notebooks/store.py).

    Slurm stays the truth about whether the job runs; this row remembers what Slurm
    does not: who owns the session, the secret the reverse proxy adds upstream (it
    never reaches a browser), and where the server answered (``host``/``port``, set
    only once the probe succeeded). ``state`` is queued, starting, ready, ended or
    unknown (the scheduler could not be asked: never taken to mean ended).
    """

    __tablename__ = "notebook_sessions"

    id: str = Field(primary_key=True, max_length=16)
    owner: str = Field(max_length=64, index=True)
    job_id: str | None = Field(default=None, max_length=32, index=True)
    label: str = Field(default="", max_length=128)
    interface: str = Field(default="lab", max_length=16)  # lab | notebook
    folder: str = Field(default="", max_length=4096)
    secret: str = Field(max_length=128)
    host: str | None = Field(default=None, max_length=255)
    port: int | None = None
    # A SessionState (wrappers/notebooks/states.py), kept as its plain value.
    state: str = Field(default=SessionState.QUEUED, max_length=16, index=True)
    ended_reason: str = Field(default="", max_length=255)
    # What was asked for, shown on the session page (Slurm has the granted values).
    partition: str = Field(default="", max_length=64)
    cores: int = 1
    memory_mb: int = 0
    time_minutes: int = 60
    # The start form's one-time token (the session's id when there was none), unique,
    # so a double click or a retried request starts one session.
    token: str = Field(max_length=64, index=True, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ends_at: datetime | None = None
    ended_at: datetime | None = None


class NotebookPass(SQLModel, table=True):
    """A way into one notebook session's own origin (wrappers/notebooks/proxy/passes.py).

    A ``code`` is what the portal hands the browser when she connects: it lasts a
    minute, works once, and only in the browser holding the state cookie whose hash
    it keeps. A ``cookie`` is what the notebook origin gives that browser for it:
    it lasts as long as the portal session it was made in, and works only while that
    session does. Each is bound to that portal session (its id hash) and to one
    notebook session; only the SHA-256 of the value the browser holds is kept.
    """

    __tablename__ = "notebook_passes"

    token_hash: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=8)  # code | cookie
    notebook_id: str = Field(max_length=16, index=True)
    owner: str = Field(max_length=64)
    session_hash: str = Field(max_length=64, index=True)
    state_hash: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    used_at: datetime | None = None
