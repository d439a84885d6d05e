"""Notices jobs ending and tells their owners: a notification kept until seen, a live
event for their open tabs, and an e-mail for those who asked.

Fed by the one cluster watcher (``listen`` is called after every reading). A job has
ended when, in a reading the scheduler answered, none of its parts (one job, or the
tasks of an array) is waiting, running or finishing any more, and either

- the previous reading had it active (it finished; its final state lingers in the
  queue for Slurm's MinJobAge), or
- it is gone from the queue altogether (accounting is asked for its final state), or
- it is new since the last reading, submitted after the portal started, and already
  over (a job shorter than one reading).

An unreachable scheduler never ends anything: such readings are skipped whole. At
start-up the first reading only says what is active (nothing that ended while the
portal was down is announced, or every old job would ring the bell); unsent e-mail
requests of the last week are checked once, so nobody misses a promised message.

``listen`` only compares and queues; the scheduler lookups, database writes and
SMTP happen in tasks of their own, so the watcher never waits for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.models import JobWatch, utcnow
from app.notify.mailer import Mailer, MailError
from app.notify.store import NewNotification, NotificationStore
from app.notify.words import ending_words
from app.web.words import JobNames
from managers.scheduler import (
    ClusterSnapshot,
    Job,
    JobState,
    SchedulerAdapter,
    SchedulerError,
)

Publish = Callable[[str | None, dict[str, Any]], Awaitable[None]]

# Unsent e-mail requests older than this are not looked at again at start-up.
RESUME_WINDOW = timedelta(days=7)


def over(job: Job) -> bool:
    """Whether the job has reached a final state (not one it may still leave, such as
    requeued, nor "unknown", which says nothing yet)."""
    return job.state.is_final


def base_id(job_id: str) -> str:
    """An array task (``12_3``, ``12_[4-9]``) belongs to job ``12``."""
    return job_id.split("_", 1)[0]


def _groups(snapshot: ClusterSnapshot) -> dict[str, list[Job]]:
    groups: dict[str, list[Job]] = {}
    for job in snapshot.jobs:
        groups.setdefault(base_id(job.job_id), []).append(job)
    return groups


@dataclass
class Ending:
    """A job (or array) that has ended; ``missing`` parts must be looked up first."""

    job_id: str
    user: str
    name: str
    jobs: list[Job]
    missing: list[str] = field(default_factory=list)
    # Checked at start-up or for a late e-mail request: it may not have ended at all.
    uncertain: bool = False
    attempts: int = 0


class Notifier:
    """Turns job endings into notifications and e-mails; see the module docstring."""

    def __init__(
        self,
        store: NotificationStore,
        scheduler: SchedulerAdapter,
        publish: Publish,
        mailer: Mailer,
        public_url: str,
        logger: Any,
        lookup_retry_seconds: float = 15.0,
        lookup_attempts: int = 40,
        job_names: JobNames | None = None,
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.publish = publish
        self.mailer = mailer
        self.public_url = public_url
        self.log = logger
        self.lookup_retry_seconds = lookup_retry_seconds
        self.lookup_attempts = lookup_attempts
        self.job_names = job_names or JobNames()
        self._queue: asyncio.Queue[Ending] = asyncio.Queue()
        self._active: dict[str, list[Job]] = {}
        self._seen: set[str] = set()
        self._since: datetime | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- fed by the watcher ---------------------------------------------------------

    def listen(self, previous: ClusterSnapshot | None, current: ClusterSnapshot) -> None:
        """Compare this reading with the last one the scheduler answered; queue what
        ended. Cheap and synchronous: the watcher calls it after every reading."""
        if not current.reachable:
            return  # "unknown" is never "gone"
        groups = _groups(current)
        if self._since is not None:
            for job_id, jobs in groups.items():
                if not all(over(job) for job in jobs):
                    continue
                before = self._active.get(job_id)
                if before is not None:
                    present = {job.job_id for job in jobs}
                    missing = [
                        job.job_id
                        for job in before
                        if job.job_id not in present and "[" not in job.job_id
                    ]
                    self._queue.put_nowait(
                        Ending(job_id, jobs[0].user, jobs[0].name, jobs, missing)
                    )
                elif job_id not in self._seen and all(
                    job.submitted_at is not None and job.submitted_at >= self._since for job in jobs
                ):
                    self._queue.put_nowait(Ending(job_id, jobs[0].user, jobs[0].name, jobs))
            for job_id, before in self._active.items():
                if job_id not in groups:
                    missing = [job.job_id for job in before if "[" not in job.job_id] or [job_id]
                    self._queue.put_nowait(
                        Ending(job_id, before[0].user, before[0].name, [], missing)
                    )
        else:
            self._since = current.taken_at - timedelta(seconds=1)
        self._active = {
            job_id: jobs for job_id, jobs in groups.items() if not all(over(job) for job in jobs)
        }
        self._seen = set(groups)

    # -- the worker -----------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled: look up, record and announce each ending in turn."""
        try:
            await self.resume()
        except Exception:
            self.log.exception("notifier_resume_failed")
        while True:
            ending = await self._queue.get()
            try:
                await self._handle(ending)
            except Exception:  # a bug or a database outage: logged, the next one goes on
                self.log.exception("job_end_notice_failed", job=ending.job_id, user=ending.user)

    async def drain(self) -> int:
        """Handle every ending queued so far, now (for tests and tools); how many."""
        handled = 0
        while not self._queue.empty():
            await self._handle(self._queue.get_nowait())
            handled += 1
        return handled

    async def stop(self) -> None:
        """Cancel the e-mails still waiting for a retry (their requests stay open)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def resume(self) -> None:
        """Check the unsent e-mail requests once: their jobs may have ended while the
        portal was down."""
        for watch in await self.store.waiting_watches(utcnow() - RESUME_WINDOW):
            self._queue.put_nowait(
                Ending(watch.job_id, watch.user, "", [], [watch.job_id], uncertain=True)
            )

    async def watch(self, job_id: str, user: str, email: str) -> None:
        """Remember an e-mail request; if the job already ended (it was quicker than
        this call), look it up so the message still goes out."""
        await self.store.watch(job_id, user, email)
        self.log.info("job_watch_added", user=user, job=job_id, email=email)
        if await self.store.has(user, f"job:{job_id}"):
            self._queue.put_nowait(Ending(job_id, user, "", [], [job_id], uncertain=True))

    async def _handle(self, ending: Ending) -> None:
        jobs = list(ending.jobs)
        for part in ending.missing:
            try:
                record = await self.scheduler.job_record(part)
            except SchedulerError as error:
                self._retry(ending, error.message)
                return
            if record is not None and not over(record):
                return  # back in the queue (requeued) or not over: the watcher follows it
            if record is None and ending.uncertain:
                self.log.info("job_end_unknown", job=part, user=ending.user)
                return
            jobs.append(
                record
                or Job(job_id=part, name=ending.name, user=ending.user, state=JobState.UNKNOWN)
            )
        name = ending.name or (jobs[0].name if jobs else "")
        await self.tell(ending.job_id, ending.user, name, jobs)

    def _retry(self, ending: Ending, why: str) -> None:
        ending.attempts += 1
        if ending.attempts > self.lookup_attempts:
            self.log.warning("job_end_lookup_gave_up", job=ending.job_id, user=ending.user)
            return
        self.log.info("job_end_lookup_later", job=ending.job_id, user=ending.user, detail=why)
        loop = asyncio.get_running_loop()
        loop.call_later(self.lookup_retry_seconds, self._queue.put_nowait, ending)

    async def tell(self, job_id: str, user: str, name: str, jobs: list[Job]) -> None:
        """Record the notification (once), update the owner's open tabs, and send the
        e-mails that were asked for (once each)."""
        title, sentence = ending_words(job_id, name, jobs, self.job_names)
        array = len(jobs) > 1 or any("_" in job.job_id for job in jobs)
        url = "/jobs" if array else f"/jobs/{job_id}"
        if await self.store.is_portal_user(user):
            row = await self.store.record(
                NewNotification(user, "job-ended", f"job:{job_id}", title, sentence, url)
            )
            if row is not None:
                self.log.info("job_end_noticed", user=user, job=job_id, title=title)
                await self.announce(user)
        for watch in await self.store.watches(job_id):
            self._spawn(self._mail(watch, title, sentence, self.public_url + url))

    async def announce(self, user: str) -> None:
        """Tell ``user``'s open tabs how many notifications they have not seen."""
        unseen = await self.store.unseen(user)
        await self.publish(user, {"kind": "notifications", "user": user, "unseen": unseen})

    # -- e-mail ---------------------------------------------------------------------

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mail(self, watch: JobWatch, title: str, sentence: str, link: str) -> None:
        """Send one requested e-mail, retrying after each of ``mail.retry_seconds``; a
        request that could not be sent is left open (start-up checks it again)."""
        who = dict(user=watch.user, job=watch.job_id, to=watch.email)
        if not self.mailer.enabled:
            self.log.warning("mail_not_configured", **who)
            return
        if watch.id is None or not await self.store.claim(watch.id):
            return
        text = await self._mail_text(watch, sentence, link)
        pauses = [0.0, *self.mailer.settings.retry_seconds]
        try:
            for attempt, pause in enumerate(pauses, start=1):
                await asyncio.sleep(pause)
                try:
                    await self.mailer.send(watch.email, title, text)
                except MailError as error:
                    self.log.warning("mail_failed", attempt=attempt, detail=error.detail, **who)
                    continue
                self.log.info("mail_sent", attempt=attempt, **who)
                return
        except asyncio.CancelledError:
            await asyncio.shield(self.store.release(watch.id))
            raise
        self.log.error("mail_gave_up", attempts=len(pauses), **who)
        await self.store.release(watch.id)

    async def _mail_text(self, watch: JobWatch, sentence: str, link: str) -> str:
        name = await self.store.display_name(watch.user) or watch.user
        return (
            f"Hello {name},\n\n"
            f"{sentence}\n\n"
            f"Its page, with its output and details:\n{link}\n\n"
            f"You get this message because you asked the cluster portal to e-mail\n"
            f"{watch.email} when this job ends.\n"
        )
