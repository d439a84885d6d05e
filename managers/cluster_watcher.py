"""One watcher for the whole portal: reads the cluster, publishes what changed.

However many people have the dashboard open, Slurm sees one ``sinfo`` and one
``squeue`` per interval. The interval stretches while nothing changes and snaps
back on the first change. A scheduler that does not answer makes the snapshot
"unreachable" (shown as unknown); nothing is dropped or assumed finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from managers.scheduler import ClusterSnapshot, SchedulerAdapter, SchedulerError
from managers.scheduler.models import Job

# publish(audience, payload): audience None is everyone, "project:<name>" whoever may
# look at that project's jobs, otherwise one Unix name.
Publish = Callable[[str | None, dict[str, Any]], Awaitable[None]]
# listener(previous, current), called after every reading: must be quick and must not
# wait (the notifier only compares and queues its work).
Listener = Callable[[ClusterSnapshot | None, ClusterSnapshot], None]


class ClusterWatcher:
    """Polls the scheduler and publishes changes; ``latest`` is the last reading."""

    def __init__(
        self,
        adapter: SchedulerAdapter,
        publish: Publish,
        interval: float = 1.0,
        idle_interval: float = 5.0,
        logger: Any = None,
    ) -> None:
        self.adapter = adapter
        self.publish = publish
        self.interval = interval
        self.idle_interval = idle_interval
        self.log = logger
        self.latest: ClusterSnapshot | None = None
        self._wake = asyncio.Event()
        self._due: float | None = None  # loop time of a reading already asked for
        self.listeners: list[Listener] = []

    def poke(self, after: float = 0.0) -> None:
        """Read the cluster now, or ``after`` seconds from now (a job was submitted, a
        prolog hook fired...).

        A poke while a later reading is already due within ``after``'s few hundredths
        of a second joins it: a job submitted through the portal starts at once, and
        its prolog's poke would otherwise read the queue while the person still waits
        for their answer, competing with it for the CPU.
        """
        loop = asyncio.get_running_loop()
        if self._due is not None and loop.time() < self._due:
            return
        if after > 0:
            self._due = loop.time() + after
            loop.call_later(after, self._wake_now)
        else:
            self._wake.set()

    def _wake_now(self) -> None:
        self._due = None
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled. A bug or a bus outage in one round is logged, never fatal:
        a dead watcher would leave every dashboard frozen without a word."""
        delay = self.interval
        while True:
            # Cleared before reading, so a poke that arrives during a reading (a job
            # ended just after squeue answered) makes another one at once.
            self._wake.clear()
            try:
                changed = await self.refresh()
            except Exception:
                if self.log is not None:
                    self.log.exception("cluster_watcher_round_failed")
                changed = False
            delay = self.interval if changed else min(delay * 1.5, self.idle_interval)
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    async def refresh(self) -> bool:
        """Take one snapshot, publish the differences; return whether anything changed."""
        previous = self.latest
        try:
            current = await self.adapter.snapshot()
        except SchedulerError as error:
            if self.log is not None:
                self.log.warning("scheduler_unreachable", detail=error.detail)
            current = ClusterSnapshot(
                reachable=False,
                error=error.message,
                taken_at=datetime.now(UTC),
                partitions=previous.partitions if previous else [],
                nodes=previous.nodes if previous else [],
                jobs=previous.jobs if previous else [],
            )
        self.latest = current
        changed = False
        if previous is None or _cluster_view(previous) != _cluster_view(current):
            await self.publish(None, cluster_event(current))
            changed = True
        # Grouped once per reading: a big queue costs one pass, not one per person.
        old_by_user, new_by_user = _by(previous, "user"), _by(current, "user")
        for user in old_by_user.keys() | new_by_user.keys():
            before, after = old_by_user.get(user, []), new_by_user.get(user, [])
            if previous is None or before != after:
                event = jobs_event(current, user, _changed(before, after, previous is None))
                await self.publish(user, event)
                changed = True
        old_by_project, new_by_project = _by(previous, "account"), _by(current, "account")
        for project in old_by_project.keys() | new_by_project.keys():
            before, after = old_by_project.get(project, []), new_by_project.get(project, [])
            if previous is None or before != after:
                touched = _changed(before, after, previous is None)
                await self.publish(
                    f"project:{project}", project_jobs_event(current, project, touched)
                )
        for listener in self.listeners:
            try:
                listener(previous, current)
            except Exception:  # one listener's bug must not stop the others or the watcher
                if self.log is not None:
                    self.log.exception("cluster_listener_failed", listener=repr(listener))
        return changed


def _cluster_view(snapshot: ClusterSnapshot) -> Any:
    return (
        snapshot.reachable,
        [p.model_dump() for p in snapshot.partitions],
        [n.model_dump() for n in snapshot.nodes],
    )


def cluster_event(snapshot: ClusterSnapshot) -> dict[str, Any]:
    """The event everyone receives: partitions and nodes, no one's jobs."""
    return {"kind": "cluster", "snapshot": snapshot.model_dump(mode="json", exclude={"jobs"})}


def jobs_event(
    snapshot: ClusterSnapshot, user: str, changed: list[str] | None = None
) -> dict[str, Any]:
    """The event only ``user`` receives: their jobs in the queue, and those that
    finished in the last few minutes (so a page sees the final state arrive).

    ``changed`` names the jobs that differ from the previous reading, so a viewer
    re-renders those pages' parts only; None means all (a viewer catching up)."""
    jobs = [job.model_dump(mode="json") for job in snapshot.jobs_of(user)]
    return {"kind": "jobs", "user": user, "jobs": jobs, "changed": changed}


def project_jobs_event(
    snapshot: ClusterSnapshot, project: str, changed: list[str] | None = None
) -> dict[str, Any]:
    """The event for whoever may look at a project's jobs (its Slurm account)."""
    jobs = [job.model_dump(mode="json") for job in snapshot.jobs if job.account == project]
    return {"kind": "project_jobs", "project": project, "jobs": jobs, "changed": changed}


def _by(snapshot: ClusterSnapshot | None, field: str) -> dict[str, list[Job]]:
    """The snapshot's jobs grouped by ``user`` or ``account`` (jobs without one left out)."""
    groups: dict[str, list[Job]] = {}
    for job in snapshot.jobs if snapshot else []:
        key = getattr(job, field)
        if key:
            groups.setdefault(key, []).append(job)
    return groups


def _changed(before: list[Job], after: list[Job], first: bool) -> list[str] | None:
    """Ids of the jobs that are new or differ (None on the first reading: all)."""
    if first:
        return None
    old = {job.job_id: job for job in before}
    return [job.job_id for job in after if old.get(job.job_id) != job]
