"""Follows every notebook session from the cluster's readings: queued, starting,
ready, ended (and why), or unknown while the scheduler does not answer.

It asks Slurm nothing of its own while sessions wait or run: the one cluster watcher
wakes it after each reading (``listen``, through ``app.state.readings``), and it
decides from that reading. Everything else it does for a session's owner goes
through the verb gate as the tool's service principal ``service:notebooks-monitor``
(``call_as_service``), with rules of its own and an audit row for each call: a
session whose job has left the queue is looked up with ``jobs.show`` (accounting),
once, for why it ended; a starting session's ``server.json`` is read with
``files.read`` by the owner's agent, as her, its host checked against the job's node
address and its port range, and the proxy's ``probe`` must get an answer from
Jupyter with the session's secret before the session counts as ready; the warning
ten minutes before the end is ``notebooks.warn``. An unanswered reading makes
sessions "unknown", never "ended": nothing is cancelled or forgotten because Slurm
was slow.

Every change reaches the owner's open tabs as one ``notebooks`` event on her channel
(rendered by app/realtime/fragments.py), and so does the minute count while a session
runs, so its time left and the ten-minute warning appear by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.logs import get_logger
from app.models import utcnow
from app.readings import Readings
from app.realtime.bus import user_channel
from app.verbs import VerbDenied, VerbError, VerbFailed, VerbGate
from app.verbs.services import Extensions
from managers.scheduler import ClusterSnapshot, Job, JobState
from wrappers.files.verbs.manage import home_of
from wrappers.notebooks.models import NotebookSession
from wrappers.notebooks.settings import notebook_settings
from wrappers.notebooks.states import SessionState
from wrappers.notebooks.store import Notebooks
from wrappers.notebooks.verbs import WARN_MINUTES, SessionView, queued_job, session_view

if TYPE_CHECKING:
    from starlette.applications import Starlette

# The tool's part that follows sessions for their owners (Tool.principals).
MONITOR = "service:notebooks-monitor"

# probe(host, port, session_id, secret): whether Jupyter answers there for this secret.
Probe = Callable[[str, int, str, str], Awaitable[bool]]
Publish = Callable[[str | None, dict[str, Any]], Awaitable[None]]

ENDED_WORDS = {
    JobState.TIMEOUT: "time limit",
    JobState.OUT_OF_MEMORY: "out of memory",
    JobState.CANCELLED: "cancelled",
    JobState.NODE_FAIL: "node failure",
    JobState.BOOT_FAIL: "node failure",
    JobState.COMPLETED: "Jupyter was shut down",
    JobState.FAILED: "Jupyter stopped with an error",
    JobState.PREEMPTED: "pre-empted by the scheduler",
    JobState.DEADLINE: "deadline passed",
}
# Holding its nodes but ending: its final state comes with the next readings.
ENDING = frozenset({JobState.COMPLETING, JobState.STAGE_OUT})
# A session whose job never showed up in the queue after this long did not start.
START_GRACE = timedelta(minutes=2)
# A job neither the queue nor accounting knows after this long is taken as gone.
FORGOTTEN_AFTER = timedelta(minutes=10)
SERVER_FILE_LIMIT = 4096


def ends_at(job: Job) -> datetime | None:
    if job.started_at is None or job.time_limit_minutes is None:
        return None
    return job.started_at + timedelta(minutes=job.time_limit_minutes)


def decide(row: NotebookSession, job: Job, verified: bool) -> dict[str, Any]:
    """The changes one reading of the session's job makes to the session.

    ``verified``: this portal process has had an answer from the session's server
    (a ready session from before a restart is probed again before it counts).
    A running job whose server is not verified yet is "starting"; the caller then
    looks for ``server.json`` and probes. A job still being set up on its node
    (CONFIGURING) is one of those: Jupyter has not started there yet.
    """
    state = job.state
    if state.is_waiting:  # queued, held, requeued, or paused where it runs
        return {"state": SessionState.QUEUED, "host": None, "port": None}
    if state in ENDING:
        return {}
    if state.is_active:
        changes: dict[str, Any] = {"started_at": job.started_at, "ends_at": ends_at(job)}
        ready = verified and row.host is not None and row.port is not None
        changes["state"] = SessionState.READY if ready else SessionState.STARTING
        return changes
    if state is JobState.UNKNOWN:
        return {"state": SessionState.UNKNOWN}
    return {
        "state": SessionState.ENDED,
        "ended_reason": ENDED_WORDS.get(state, "ended"),
        "host": None,
        "port": None,
    }


def server_address(text: bytes) -> tuple[str, int] | None:
    """(host, port) from server.json, or None if it is not what the job writes."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    host, port = data.get("host"), data.get("port")
    if not isinstance(host, str) or isinstance(port, bool) or not isinstance(port, int):
        return None
    return host, port


def node_address(job: Job, snapshot: ClusterSnapshot) -> str:
    """The NodeAddr of the one node the job runs on ("" if unknown)."""
    for node in snapshot.nodes:
        if node.name == job.nodes:
            return node.address
    return ""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


class NotebookMonitor:
    def __init__(
        self,
        notebooks: Notebooks,
        gate: VerbGate,
        readings: Readings,
        publish: Publish,
        probe: Probe,
        logger: Any,
        starting_poll: float = 1.0,
        idle_poll: float = 30.0,
    ) -> None:
        self.notebooks = notebooks
        self.gate = gate
        self.readings = readings
        self.publish = publish
        self.probe = probe
        self.log = logger
        self.starting_poll = starting_poll
        self.idle_poll = idle_poll
        self._wake = asyncio.Event()
        # Sessions whose server answered this process's probe.
        self._verified: set[str] = set()
        # Sessions whose owner this process has warned of the end (notebooks.warn).
        self._warned: set[str] = set()
        # What each owner's tabs were last sent, so an unchanged round sends nothing.
        self._sent: dict[str, Any] = {}

    def listen(self, previous: ClusterSnapshot | None, current: ClusterSnapshot) -> None:
        """A cluster watcher listener: only wakes the monitor (it must not wait)."""
        self._wake.set()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled; a failing round is logged and the next one comes anyway."""
        while True:
            self._wake.clear()
            try:
                busy = await self.round()
            except Exception:
                self.log.exception("notebook_monitor_round_failed")
                busy = False
            try:
                await asyncio.wait_for(
                    self._wake.wait(), self.starting_poll if busy else self.idle_poll
                )
            except TimeoutError:
                pass

    async def round(self) -> bool:
        """Follow every session not yet ended; True while one is starting (its
        server.json is then looked for every second, not only at each reading)."""
        snapshot = self.readings.latest
        if snapshot is None:
            return False
        rows = await self.notebooks.store.active()
        busy = False
        for row in rows:
            try:
                followed = await self.follow(row, snapshot)
            except Exception:
                self.log.exception("notebook_follow_failed", session=row.id)
                continue
            busy = busy or (followed.state == SessionState.STARTING and snapshot.reachable)
        owners = {row.owner for row in rows} | set(self._sent)
        for owner in sorted(owners):
            await self._tell(owner, snapshot)
        return busy

    async def follow(self, row: NotebookSession, snapshot: ClusterSnapshot) -> NotebookSession:
        """One session, one reading: decide, look for the server, record."""
        if not snapshot.reachable:
            return await self._record(row, {"state": SessionState.UNKNOWN})
        job = queued_job(row, snapshot)
        age = utcnow() - _aware(row.created_at)
        changes: dict[str, Any] = {}
        if job is not None and job.job_id != row.job_id:
            changes["job_id"] = job.job_id
        if job is None:
            if not row.job_id:
                if age > START_GRACE:
                    reason = "not started: the job never reached the queue"
                    return await self._record(
                        row, {"state": SessionState.ENDED, "ended_reason": reason}
                    )
                return row
            try:
                job = await self._accounting(row)
            except VerbError as error:  # accounting unreachable, or the rule removed
                self.log.warning(
                    "notebook_accounting_unreachable", detail=error.message, verb="jobs.show"
                )
                return await self._record(row, {"state": SessionState.UNKNOWN})
            if job is None:
                if age > FORGOTTEN_AFTER:
                    reason = "the scheduler no longer knows its job"
                    return await self._record(
                        row, {"state": SessionState.ENDED, "ended_reason": reason}
                    )
                return row
        changes.update(decide(row, job, row.id in self._verified))
        if changes.get("state") == SessionState.STARTING:
            found = await self._server(row, job, snapshot)
            if found is not None:
                changes.update(state=SessionState.READY, host=found[0], port=found[1])
            elif row.host is not None:
                changes.update(host=None, port=None)
        if changes.get("state") == SessionState.ENDED:
            self._verified.discard(row.id)
        return await self._record(row, changes)

    async def _server(
        self, row: NotebookSession, job: Job, snapshot: ClusterSnapshot
    ) -> tuple[str, int] | None:
        """Where the session's server answers, once it does; None until then.

        ``server.json`` is hers (she could edit it), so the host must be the node
        her job runs on and the port an unprivileged one: nobody points the portal at
        another machine or service.
        """
        address = (row.host, row.port) if row.host and row.port else await self._read(row)
        if address is None:
            return None
        host, port = address
        expected = node_address(job, snapshot)
        if not expected or host != expected or not 1024 <= port <= 65535:
            self.log.warning(
                "notebook_server_refused", session=row.id, host=host, port=port, node=expected
            )
            return None
        try:
            answered = await self.probe(host, port, row.id, row.secret)
        except Exception:
            self.log.exception("notebook_probe_failed", session=row.id)
            answered = False
        if not answered:
            return None
        self._verified.add(row.id)
        self.log.info("notebook_ready", session=row.id, user=row.owner, job=row.job_id)
        return host, port

    async def _accounting(self, row: NotebookSession) -> Job | None:
        """The session's job as accounting remembers it (``jobs.show``, for her); None
        while it knows no such job. VerbError when it cannot be asked."""
        try:
            shown = await self.gate.call_as_service(
                MONITOR, row.owner, "jobs.show", job_id=row.job_id
            )
        except VerbFailed:  # no such job (yet): accounting hears of jobs a moment late
            return None
        job: Job = shown.job
        return job

    async def _read(self, row: NotebookSession) -> tuple[str, int] | None:
        """server.json, read by her agent as her (``files.read``, for her); None while
        it is not there."""
        path = f"{home_of(row.owner).rstrip('/')}/.onestop/notebooks/{row.id}/server.json"
        try:
            opened = await self.gate.call_as_service(MONITOR, row.owner, "files.read", path=path)
        except VerbDenied as error:
            self.log.warning("notebook_server_file_refused", session=row.id, detail=error.message)
            return None
        except VerbError:  # not written yet, or her agent is not answering
            return None
        data, size = opened.head(SERVER_FILE_LIMIT)
        return server_address(data) if size <= SERVER_FILE_LIMIT else None

    async def _record(self, row: NotebookSession, changes: dict[str, Any]) -> NotebookSession:
        changed = {key: value for key, value in changes.items() if getattr(row, key) != value}
        if not changed:
            return row
        if "state" in changed:
            self.log.info(
                "notebook_state",
                session=row.id,
                user=row.owner,
                state=changed["state"],
                was=row.state,
                reason=changes.get("ended_reason", ""),
            )
        updated = await self.notebooks.store.update(row.id, unless_ended=True, **changed)
        return updated or row

    async def _tell(self, owner: str, snapshot: ClusterSnapshot) -> None:
        """Send her tabs her sessions if anything they show changed; warn once, ten
        minutes before a session ends."""
        rows = await self.notebooks.store.of_owner(owner)
        views = [session_view(row, snapshot) for row in rows]
        for view in views:
            if view.state == SessionState.READY and view.minutes_left is not None:
                if view.minutes_left < WARN_MINUTES:
                    await self._warn(view)
        payload = {
            "kind": "notebooks",
            "user": owner,
            "reachable": snapshot.reachable,
            "sessions": [view.model_dump(mode="json") for view in views],
        }
        if self._sent.get(owner) != payload:
            self._sent[owner] = payload
            await self.publish(owner, payload)
        if not any(view.state != SessionState.ENDED for view in views):
            self._sent.pop(owner, None)  # nothing left to follow for her

    async def _warn(self, view: SessionView) -> None:
        """Once per session and process: the verb itself tells her only once."""
        if view.id in self._warned:
            return
        try:
            await self.gate.call_as_service(
                MONITOR, view.owner, "notebooks.warn", session_id=view.id
            )
        except VerbError as error:  # tried again at the next round
            self.log.warning("notebook_warning_failed", session=view.id, detail=error.message)
            return
        self._warned.add(view.id)


@contextlib.asynccontextmanager
async def monitoring(app: Starlette) -> AsyncIterator[None]:
    """The notebook tool's lifespan: one monitor for the portal, woken by the cluster
    watcher, for as long as the portal runs. At start it takes up every session the
    database holds, so a restarted portal lists and reconnects them all."""
    from app.security.sessions import SessionState as PortalSession
    from app.security.sessions import SessionStore
    from wrappers.notebooks.proxy import NotebookProxy, probe
    from wrappers.notebooks.proxy.sweep import Sweep

    gate: VerbGate = app.state.verbs
    readings: Readings = app.state.readings
    extensions: Extensions = app.state.extensions
    notebooks, proxy = extensions.get(Notebooks), extensions.get(NotebookProxy)
    assert notebooks is not None and proxy is not None, "provided at start (Tool.provides)"
    bus = app.state.bus
    wait = notebook_settings(app.state.settings).probe_timeout_seconds

    async def probing(host: str, port: int, session_id: str, secret: str) -> bool:
        return await probe(host, port, session_id, secret, wait_seconds=wait)

    async def publish(audience: str | None, payload: dict[str, Any]) -> None:
        if audience is not None:
            await bus.publish(user_channel(audience), payload)

    monitor = NotebookMonitor(
        notebooks, gate, readings, publish, probing, get_logger("onestop.notebooks")
    )
    app.state.notebook_monitor = monitor

    sessions: SessionStore = app.state.sessions

    async def portal_session(id_hash: str) -> PortalSession:
        return await sessions.load_hashed(id_hash, recent=True)

    sweep = Sweep(proxy.passes, portal_session, proxy.sessions.get, wait_seconds=wait)
    with readings.following(monitor.listen):
        tasks = [asyncio.create_task(monitor.run()), asyncio.create_task(sweep.run())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await proxy.close()
