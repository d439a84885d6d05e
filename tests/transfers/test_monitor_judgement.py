"""How the monitor judges one progress report: a worker that stopped beating is gone,
but a transfer job still waiting in the queue has no worker yet and is the queue's
to judge. A pure function of the row, the report and the latest cluster reading."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from managers.data.progress import STALE_SECONDS
from managers.scheduler.models import ClusterSnapshot, Job, JobState
from wrappers.data.models import Transfer
from wrappers.data.verbs import JOB_GRACE_SECONDS, changes_from


def row(runs_as: str, *, age: float = 0.0) -> Transfer:
    return Transfer(
        id="t1",
        owner="alice",
        direction="import",
        kind="url",
        local_path="/home/alice",
        runs_as=runs_as,
        job_id="4242" if runs_as == "job" else None,
        token="tok",
        created_at=datetime.now(UTC) - timedelta(seconds=age),
    )


def services(queued: bool) -> Any:
    jobs = [Job(job_id="4242", name="transfer", user="alice", state=JobState.PENDING)]
    reading = ClusterSnapshot(taken_at=datetime.now(UTC), jobs=jobs if queued else [])
    return SimpleNamespace(watcher=SimpleNamespace(latest=reading))


def report(state: str, beat_ago: float) -> dict[str, Any]:
    return {"progress": {"state": state, "heartbeat": time.time() - beat_ago}, "alive": None}


OLD = STALE_SECONDS * 3


def test_a_job_waiting_in_the_queue_is_not_gone_however_long_it_waits() -> None:
    changes = changes_from(row("job", age=OLD), report("waiting", OLD), services(queued=True))
    assert changes["state"] == "waiting"


def test_a_waiting_job_the_queue_no_longer_shows_is_gone() -> None:
    age = JOB_GRACE_SECONDS + 10
    changes = changes_from(row("job", age=age), report("waiting", age), services(queued=False))
    assert changes["state"] == "failed" and "worker is gone" in changes["message"]


def test_a_running_job_whose_worker_stopped_beating_is_gone() -> None:
    changes = changes_from(row("job", age=OLD), report("running", OLD), services(queued=True))
    assert changes["state"] == "failed"


def test_an_agent_transfer_whose_worker_stopped_beating_is_gone() -> None:
    changes = changes_from(row("agent", age=OLD), report("waiting", OLD), services(queued=False))
    assert changes["state"] == "failed"


def test_a_fresh_heartbeat_keeps_it_running() -> None:
    changes = changes_from(row("agent"), report("running", 1.0), services(queued=False))
    assert changes["state"] == "running"
