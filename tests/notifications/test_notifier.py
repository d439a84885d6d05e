"""The notifier against real readings of the demo cluster: an ending is noticed once,
an unreachable reading ends nothing, and the first reading announces nothing."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlmodel import select

from app.db import alembic_config, create_engine, session_factory
from app.logs import get_logger
from app.models import Notification, User
from app.notify import Mailer, NotificationStore, Notifier
from app.notify.words import ending_words
from app.settings import MailSettings
from managers.scheduler import ClusterSnapshot, Job, JobState
from managers.scheduler.slurm import SlurmAdapter
from tests.helpers import submit_as, wait_until_async


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str | None, dict[str, Any]]] = []

    async def __call__(self, audience: str | None, payload: dict[str, Any]) -> None:
        self.events.append((audience, payload))


@pytest.fixture
async def setup(sqlite_url: str, cluster: None) -> AsyncIterator[tuple[Notifier, Recorder, Any]]:
    command.upgrade(alembic_config(sqlite_url), "head")
    engine = create_engine(sqlite_url)
    database = session_factory(engine)
    async with database() as db:
        db.add(User(issuer="test", subject="alice", unix_name="alice", display_name="Alice"))
        await db.commit()
    recorder = Recorder()
    notifier = Notifier(
        NotificationStore(database),
        SlurmAdapter(),
        recorder,
        Mailer(MailSettings()),
        "http://portal.test",
        get_logger("tests.notify"),
    )
    yield notifier, recorder, database
    await engine.dispose()


async def notifications_of(database: Any, user: str) -> list[Notification]:
    async with database() as db:
        return list((await db.exec(select(Notification).where(Notification.user == user))).all())


def unreachable(jobs: list[Job]) -> ClusterSnapshot:
    """What the watcher makes of a reading the scheduler did not answer."""
    return ClusterSnapshot(
        reachable=False, error="no answer", taken_at=datetime.now(UTC), jobs=jobs
    )


async def test_an_ending_is_noticed_once_and_never_from_an_unreachable_reading(
    setup: tuple[Notifier, Recorder, Any],
) -> None:
    notifier, recorder, database = setup
    adapter = SlurmAdapter()
    job = submit_as("alice", "--job-name=noticed", "--wrap", "sleep 60")
    try:
        first = await adapter.snapshot()
        notifier.listen(None, first)
        # The scheduler stops answering: the job is not in this "reading" at all.
        notifier.listen(first, unreachable([]))
        assert await notifier.drain() == 0, "an unreachable scheduler ended a job"
        again = await adapter.snapshot()
        notifier.listen(first, again)
        assert await notifier.drain() == 0
    finally:
        subprocess.run(["scancel", job], check=True)

    async def cancelled() -> ClusterSnapshot | None:
        after = await adapter.snapshot()
        mine = [j for j in after.jobs if j.job_id == job]
        return after if mine and mine[0].state is JobState.CANCELLED else None

    after = await wait_until_async(cancelled, 30, 0.3)
    notifier.listen(again, after)
    notifier.listen(after, await adapter.snapshot())  # still there, still cancelled
    assert await notifier.drain() == 1
    (row,) = [n for n in await notifications_of(database, "alice") if n.subject == f"job:{job}"]
    assert row.title == f"Job {job} 'noticed' was cancelled"
    assert row.url == f"/jobs/{job}" and row.seen_at is None
    assert recorder.events == [("alice", {"kind": "notifications", "user": "alice", "unseen": 1})]


async def test_a_job_gone_from_the_queue_is_looked_up_in_accounting(
    setup: tuple[Notifier, Recorder, Any],
) -> None:
    notifier, _, database = setup
    adapter = SlurmAdapter()
    job = submit_as("alice", "--job-name=vanished", "--wrap", "sleep 2; exit 3")
    first = await adapter.snapshot()
    notifier.listen(None, first)
    assert any(j.job_id == job for j in first.jobs)
    # Pretend it aged out of the queue (MinJobAge): the same reading without it.
    gone = first.model_copy(update={"jobs": [j for j in first.jobs if j.job_id != job]})

    async def failed() -> bool:
        record = await adapter.job_record(job)
        return record is not None and record.state is JobState.FAILED

    await wait_until_async(failed, 30, 0.3)
    notifier.listen(first, gone)
    assert await notifier.drain() == 1
    (row,) = [n for n in await notifications_of(database, "alice") if n.subject == f"job:{job}"]
    assert row.title == f"Job {job} 'vanished' failed with exit code 3"


async def test_the_first_reading_announces_nothing(
    setup: tuple[Notifier, Recorder, Any],
) -> None:
    notifier, recorder, database = setup
    adapter = SlurmAdapter()
    job = submit_as("alice", "--job-name=old", "--wrap", "true")

    async def completed() -> ClusterSnapshot | None:
        reading = await adapter.snapshot()
        done = any(j.job_id == job and j.state is JobState.COMPLETED for j in reading.jobs)
        return reading if done else None

    first = await wait_until_async(completed, 30, 0.3)
    notifier.listen(None, first)  # the portal starts: this job ended before it
    notifier.listen(first, await adapter.snapshot())
    assert await notifier.drain() == 0
    assert not await notifications_of(database, "alice") and not recorder.events


def test_the_words_are_plain() -> None:
    def job(state: JobState, code: int | None = None, limit: int | None = None) -> Job:
        return Job(
            job_id="7", name="sim", user="a", state=state, exit_code=code, time_limit_minutes=limit
        )

    assert ending_words("7", "sim", [job(JobState.COMPLETED, 0)]) == (
        "Job 7 'sim' finished",
        "Your job 7 'sim' finished: completed.",
    )
    assert ending_words("7", "sim", [job(JobState.FAILED, 3)])[1] == (
        "Your job 7 'sim' finished: failed with exit code 3."
    )
    assert ending_words("7", "sim", [job(JobState.TIMEOUT, limit=90)])[1] == (
        "Your job 7 'sim' finished: ran out of time (its limit was 1 hour 30 minutes)."
    )
    tasks = [
        Job(job_id=f"7_{n}", name="sim", user="a", state=state)
        for n, state in enumerate([JobState.COMPLETED, JobState.COMPLETED, JobState.FAILED])
    ]
    assert ending_words("7", "sim", tasks) == (
        "Job array 7 'sim' finished (1 failed, 2 finished)",
        "Your job array 7 'sim' finished: 3 tasks, 1 failed, 2 finished.",
    )
