"""Notebook session verbs: start, list, show and stop Jupyter servers run as Slurm jobs.

A session is the Casbin object ``notebook:<owner>/<id>``, named by its real owner
(from the database, never from the asker), so the default rule lets each person use
only her own. The work is done by her agent as her (managers/notebooks/operations.py):
the session folder with its secret, then sbatch and scancel under her own munge
credential. The secret, host and port never leave the portal: no result here
carries them.
"""

from __future__ import annotations

import posixpath
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.logs import get_logger
from app.models import utcnow
from app.notify.store import NewNotification
from app.security.sessions import Identity
from app.verbs.catalog import NoArgs, Verb
from app.verbs.errors import VerbError, VerbFailed, VerbInvalid, VerbUnavailable
from app.verbs.gate import agent_work
from app.verbs.services import Services
from managers.notebooks import job_name
from managers.scheduler import ClusterSnapshot, Job
from wrappers.files.verbs.manage import home_of
from wrappers.jobs.verbs.jobs import FORBIDDEN_IN_NAME, SubmitArgs, cluster_problems
from wrappers.notebooks.models import NotebookSession
from wrappers.notebooks.states import SessionState
from wrappers.notebooks.store import SESSION_ID, Notebooks, new_secret, new_session_id

log = get_logger("onestop.notebooks")

# Ten minutes before its end a session warns (the page, and a notification).
WARN_MINUTES = 10


class StartArgs(BaseModel):
    label: str = Field(default="", max_length=64)
    interface: Literal["lab", "notebook"] = "lab"
    # Where Jupyter opens: her home ("") or a folder inside it.
    folder: str = Field(default="", max_length=4096)
    partition: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")
    cores: int = Field(default=1, ge=1, le=256)
    memory_mb: int = Field(default=0, ge=0, le=4 * 1024 * 1024)
    time_minutes: int = Field(default=60, ge=1, le=365 * 24 * 60)
    token: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")

    @field_validator("label")
    @classmethod
    def _plain_label(cls, label: str) -> str:
        if FORBIDDEN_IN_NAME.search(label):
            raise ValueError("a label may not contain line breaks, quotes or ; $ ` # & | < >")
        return label.strip()

    @field_validator("folder")
    @classmethod
    def _absolute(cls, folder: str) -> str:
        if not folder:
            return folder
        if not folder.startswith("/") or "\x00" in folder:
            raise ValueError("the folder must be a full path, starting with /")
        return posixpath.normpath(folder)


class SessionArgs(BaseModel):
    session_id: str = Field(pattern=SESSION_ID.pattern)


class SessionView(BaseModel):
    """A session as pages show it. No secret, host or port: those stay in the portal."""

    id: str
    owner: str
    label: str
    interface: Literal["lab", "notebook"]
    folder: str
    state: SessionState
    ended_reason: str = ""
    job_id: str | None = None
    partition: str = ""
    cores: int = 1
    memory_mb: int = 0
    time_minutes: int = 60
    created_at: datetime
    started_at: datetime | None = None
    ends_at: datetime | None = None
    ended_at: datetime | None = None
    # From the cluster's last reading: why it waits (Slurm's code) and where it runs.
    queue_reason: str = ""
    node: str = ""
    # Whole minutes left before the time limit, while it runs.
    minutes_left: int | None = None
    # Whether Connect leads somewhere: ready, or unknown (the scheduler is not
    # answering) with a server that answered before.
    connectable: bool = False

    @property
    def url(self) -> str:
        """Where "Connect" leads: the portal's way into the session's own origin
        (wrappers/notebooks/proxy/connect.py), then JupyterLab, or the classic
        notebook's file list."""
        return f"/notebooks/sessions/{self.id}/connect"

    @property
    def title(self) -> str:
        return self.label or f"Session {self.id[:6]}"

    @property
    def ending_soon(self) -> bool:
        return self.minutes_left is not None and self.minutes_left < WARN_MINUTES


class SessionList(BaseModel):
    sessions: list[SessionView]
    reachable: bool = True


class Warned(BaseModel):
    # Whether she was told now (not: told before, or it does not end that soon).
    warned: bool


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; everything here is timezone-aware."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=utcnow().tzinfo)
    return moment


def queued_job(row: NotebookSession, snapshot: ClusterSnapshot | None) -> Job | None:
    """The session's job in the cluster's last reading: by number, or (before the
    number is known) by its name and owner."""
    if snapshot is None:
        return None
    name = job_name(row.id)
    for job in snapshot.jobs:
        if row.job_id and job.job_id == row.job_id:
            return job
        if not row.job_id and job.name == name and job.user == row.owner:
            return job
    return None


def session_view(
    row: NotebookSession, snapshot: ClusterSnapshot | None, now: datetime | None = None
) -> SessionView:
    job = queued_job(row, snapshot) if row.state != SessionState.ENDED else None
    ends_at = _aware(row.ends_at)
    minutes_left = None
    if (
        row.state in (SessionState.STARTING, SessionState.READY, SessionState.UNKNOWN)
        and ends_at is not None
    ):
        left = (ends_at - (now or utcnow())).total_seconds()
        minutes_left = max(0, int(left // 60))
    return SessionView(
        id=row.id,
        owner=row.owner,
        label=row.label,
        interface="notebook" if row.interface == "notebook" else "lab",
        folder=row.folder,
        state=row.state,  # type: ignore[arg-type]
        ended_reason=row.ended_reason,
        job_id=row.job_id,
        partition=row.partition,
        cores=row.cores,
        memory_mb=row.memory_mb,
        time_minutes=row.time_minutes,
        created_at=_aware(row.created_at) or utcnow(),
        started_at=_aware(row.started_at),
        ends_at=ends_at,
        ended_at=_aware(row.ended_at),
        queue_reason=job.reason if job is not None and row.state == SessionState.QUEUED else "",
        node=job.nodes if job is not None else "",
        minutes_left=minutes_left,
        connectable=row.host is not None and SessionState(row.state).may_be_reachable,
    )


def _notebooks(services: Services) -> Notebooks:
    return services.own(Notebooks)


# targets: what policy is asked about


async def new_session(args: Any, identity: Identity, services: Any) -> str:
    """A new session of hers; the cluster's last reading checks the request first, so
    a mistake is explained next to its field before anything reaches Slurm."""
    request = SubmitArgs(
        script="#!/bin/bash\n",
        partition=args.partition,
        time_minutes=args.time_minutes,
        cpus_per_task=args.cores,
    )
    problems = cluster_problems(request, services.watcher.latest)
    if "cpus_per_task" in problems:
        problems["cores"] = problems.pop("cpus_per_task")
    if problems:
        raise VerbInvalid("Please check the highlighted fields.", "invalid", problems)
    return f"{identity.unix_name}/new"


async def her_sessions(args: Any, identity: Identity, services: Any) -> str:
    return identity.unix_name


async def existing_session(args: Any, identity: Identity, services: Any) -> str:
    """Named by its real owner, so policy decides on facts, not on the asker. An
    unknown id is named as the asker's own: she hears "no such session" (the pages
    show that and someone else's session alike, as not found)."""
    row = await _notebooks(services).store.get(args.session_id)
    owner = row.owner if row is not None else identity.unix_name
    return f"{owner}/{args.session_id}"


# handlers


async def start_session(args: Any, identity: Identity, services: Any) -> SessionView:
    """Record the session, then have her agent prepare its folder and submit the job.

    The row comes first so that a double click (same form token) finds it and starts
    nothing more. If the start fails, the session is recorded as ended with the
    reason, and a job that may have been submitted anyway (an answer lost on the way)
    is cancelled by its name.
    """
    notebooks = _notebooks(services)
    owner = identity.unix_name
    home = home_of(owner).rstrip("/") or "/"
    folder = args.folder or home
    session_id = new_session_id()
    row, created = await notebooks.store.create(
        id=session_id,
        owner=owner,
        label=args.label,
        interface=args.interface,
        folder=folder,
        secret=new_secret(),
        state=SessionState.QUEUED,
        partition=args.partition,
        cores=args.cores,
        memory_mb=args.memory_mb,
        time_minutes=args.time_minutes,
        token=args.token or session_id,
    )
    if not created:
        return session_view(row, services.watcher.latest)
    forgotten = await notebooks.store.delete_ended(owner, keep=notebooks.settings.ended_kept)
    try:
        result = await agent_work(
            services,
            owner,
            "notebooks.start",
            session_id=row.id,
            secret=row.secret,
            interface=row.interface,
            folder=folder,
            jupyter_env=notebooks.settings.jupyter_env,
            partition=args.partition,
            cores=args.cores,
            memory_mb=args.memory_mb,
            time_minutes=args.time_minutes,
        )
    except Exception as error:
        reason = error.message if isinstance(error, VerbError) else "it did not start"
        await notebooks.store.update(
            row.id, state=SessionState.ENDED, ended_reason=f"not started: {reason}"
        )
        refused = isinstance(error, VerbError) and error.detail in ("invalid", "ENOENT")
        if not refused:  # it may have reached sbatch before the answer was lost
            try:
                await agent_work(services, owner, "notebooks.stop", session_id=row.id)
            except Exception:
                log.warning("notebook_start_cleanup_failed", session=row.id, user=owner)
        raise
    job_id = str(result.get("job_id", ""))
    if not job_id.isdigit():
        await notebooks.store.update(row.id, state=SessionState.ENDED, ended_reason="not started")
        raise VerbUnavailable("The helper process answered something unreadable.")
    updated = await notebooks.store.update(row.id, job_id=job_id)
    log.info("notebook_started", session=row.id, user=owner, job=job_id)
    if forgotten:
        await _remove_folders(services, owner, forgotten)
    return session_view(updated or row, services.watcher.latest)


async def _remove_folders(services: Any, owner: str, session_ids: list[str]) -> None:
    """Her folders of sessions no longer listed go too; a failure only costs disk."""
    try:
        await agent_work(services, owner, "notebooks.forget", session_ids=session_ids)
    except Exception:
        log.warning("notebook_folders_not_removed", user=owner, sessions=session_ids)


async def list_sessions(args: Any, identity: Identity, services: Any) -> SessionList:
    """Hers, newest first: running ones and the last few that ended."""
    rows = await _notebooks(services).store.of_owner(identity.unix_name)
    snapshot = services.watcher.latest
    return SessionList(
        sessions=[session_view(row, snapshot) for row in rows],
        reachable=snapshot is None or snapshot.reachable,
    )


async def _row(args: Any, services: Any) -> NotebookSession:
    row = await _notebooks(services).store.get(args.session_id)
    if row is None:
        raise VerbFailed("There is no such notebook session.", "ENOENT")
    return row


async def show_session(args: Any, identity: Identity, services: Any) -> SessionView:
    return session_view(await _row(args, services), services.watcher.latest)


async def warn_session(args: Any, identity: Identity, services: Any) -> Warned:
    """Tell her once that a ready session ends in less than WARN_MINUTES: a
    notification kept until seen, and the bell in her open tabs. The monitor asks
    (as its service principal); whether it is so is decided here, from the session
    and the cluster's last reading, so nothing is said of one that does not end."""
    row = await _row(args, services)
    view = session_view(row, services.watcher.latest)
    notifier = services.notifier
    ready = SessionState(view.state) is SessionState.READY
    if not ready or not view.ending_soon or notifier is None:
        return Warned(warned=False)
    recorded = await notifier.store.record(
        NewNotification(
            row.owner,
            "notebook-ending",
            f"notebook:{row.id}:ending",
            f"Your notebook session {view.title} ends in less than {WARN_MINUTES} minutes",
            "Save your notebooks now: when the time is up the session stops, and "
            "anything not saved is lost.",
            f"/notebooks/sessions/{row.id}",
        )
    )
    if recorded is not None:
        await notifier.announce(row.owner)
    return Warned(warned=recorded is not None)


async def stop_session(args: Any, identity: Identity, services: Any) -> SessionView:
    """Cancel the job, as its owner (whoever asked: an admin stops it through the
    owner's agent, so Slurm still sees the owner's own credential). Stopping an
    ended session changes nothing."""
    notebooks = _notebooks(services)
    row = await _row(args, services)
    if row.state == SessionState.ENDED:
        return session_view(row, services.watcher.latest)
    await agent_work(
        services, row.owner, "notebooks.stop", session_id=row.id, job_id=row.job_id or ""
    )
    updated = await notebooks.store.update(row.id, state=SessionState.ENDED, ended_reason="stopped")
    log.info("notebook_stopped", session=row.id, user=row.owner, by=identity.unix_name)
    return session_view(updated or row, services.watcher.latest)


VERBS = (
    Verb(
        "notebooks.start",
        StartArgs,
        SessionView,
        "notebook",
        "start",
        new_session,
        local=start_session,
        refreshes_cluster=True,
        description="Start a Jupyter server as a Slurm job of hers.",
    ),
    Verb(
        "notebooks.list",
        NoArgs,
        SessionList,
        "notebook",
        "read",
        her_sessions,
        local=list_sessions,
        description="Her notebook sessions, running and recently ended.",
    ),
    Verb(
        "notebooks.show",
        SessionArgs,
        SessionView,
        "notebook",
        "read",
        existing_session,
        local=show_session,
    ),
    Verb(
        "notebooks.stop",
        SessionArgs,
        SessionView,
        "notebook",
        "stop",
        existing_session,
        local=stop_session,
        refreshes_cluster=True,
    ),
    # The monitor's, as service:notebooks-monitor (monitor.py); no person's rule has it.
    Verb(
        "notebooks.warn",
        SessionArgs,
        Warned,
        "notebook",
        "warn",
        existing_session,
        local=warn_session,
        description="Tell her once, by a notification, that her session ends soon.",
    ),
)
