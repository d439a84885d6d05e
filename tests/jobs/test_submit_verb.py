"""jobs.submit through the real gate and agent: clear refusals, nothing submitted,
and a retried submission never starts a second job."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from typing import Any

import pytest

from app.verbs import VerbDenied, VerbFailed, VerbInvalid
from tests.helpers import submit_as, wait_until, wait_until_async
from tests.verbs.conftest import Harness

SCRIPT = "#!/bin/bash\necho hello from $(hostname)\n"


def alices_jobs() -> set[str]:
    out = subprocess.run(
        ["squeue", "--noheader", "--user=alice", "--states=all", "--format=%i"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"partition": "nosuch"}, "partition", "There is no partition"),
        ({"partition": "debug", "time_minutes": 600}, "time_minutes", "at most 60 minutes"),
        ({"cpus_per_task": 0}, "cpus_per_task", "greater than or equal to 1"),
        ({"script": "#!/bin/bash\n" + "x" * (2 * 1024 * 1024)}, "script", "at most"),
        ({"name": "x\n#SBATCH --uid=0"}, "name", "line breaks"),
        ({"script": "#!/bin/bash\n#SBATCH --uid=0\ntrue"}, "script", "#SBATCH"),
        ({"nodes": 5}, "nodes", "only 2 nodes"),
    ],
)
async def test_bad_requests_are_explained_and_submit_nothing(
    harness: Harness,
    fields: dict[str, object],
    field: str,
    words: str,
) -> None:
    before = alices_jobs()
    request = {"script": SCRIPT, **fields}
    with pytest.raises(VerbInvalid) as refused:
        await harness.gate.call(harness.person("alice"), "jobs.submit", **request)
    assert words in refused.value.fields.get(field, ""), refused.value.fields
    assert alices_jobs() == before


async def test_a_folder_out_of_reach_is_refused(harness: Harness) -> None:
    before = alices_jobs()
    with pytest.raises(VerbFailed, match="not a folder you may write to"):
        await harness.gate.call(
            harness.person("alice"), "jobs.submit", script=SCRIPT, workdir="/home/bob"
        )
    assert alices_jobs() == before


async def test_a_retried_submission_starts_one_job(harness: Harness) -> None:
    token = uuid.uuid4().hex
    first = await harness.gate.call(
        harness.person("alice"), "jobs.submit", script="#!/bin/bash\nsleep 30\n", token=token
    )
    try:
        again = await harness.gate.call(
            harness.person("alice"), "jobs.submit", script="#!/bin/bash\nsleep 30\n", token=token
        )
        assert again.job_id == first.job_id and again.reused and not first.reused
    finally:
        subprocess.run(["scancel", first.job_id], check=False)


async def test_hold_and_release_a_waiting_job(harness: Harness) -> None:
    job = submit_as("alice", "--begin=now+1hour", "--wrap", "true")

    def reason() -> str:
        return subprocess.run(
            ["squeue", "--noheader", "--format=%r", "--jobs", job],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    try:
        alice = harness.person("alice")
        await harness.gate.call(alice, "jobs.hold", job_id=job)
        assert reason() == "JobHeldUser"
        with pytest.raises(VerbInvalid):
            await harness.gate.call(alice, "jobs.hold", job_id="12; rm -rf /")
        await harness.gate.call(alice, "jobs.release", job_id=job)
        assert reason() != "JobHeldUser"
    finally:
        subprocess.run(["scancel", job], check=False)


async def test_a_two_node_job_and_an_array(harness: Harness) -> None:
    alice = harness.person("alice")
    pair = await harness.gate.call(
        alice, "jobs.submit", script="#!/bin/bash\nsrun hostname\n", nodes=2, ntasks=2
    )
    array = await harness.gate.call(alice, "jobs.submit", script="#!/bin/bash\ntrue\n", array="1-4")

    def accounted() -> list[str]:
        """The five allocations' lines once all have completed (none until then)."""
        done = subprocess.run(
            [
                "sacct",
                "--noheader",
                "--allocations",
                "--parsable2",
                "--format=JobID,State,NodeList",
                "-j",
                f"{pair.job_id},{array.job_id}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return done if len(done) == 5 and all("|COMPLETED|" in line for line in done) else []

    try:
        done = await asyncio.to_thread(wait_until, accounted, 60, 1)
        assert any(line.startswith(f"{pair.job_id}|COMPLETED|node[1-2]") for line in done), done
        tasks = [line for line in done if line.startswith(f"{array.job_id}_")]
        assert len(tasks) == 4, done
    finally:
        subprocess.run(["scancel", pair.job_id, array.job_id], check=False)


async def test_a_finished_job_is_remembered_by_accounting(harness: Harness) -> None:
    alice = harness.person("alice")
    failed = await harness.gate.call(alice, "jobs.submit", script="#!/bin/bash\nexit 3\n")
    cancelled = await harness.gate.call(alice, "jobs.submit", script="#!/bin/bash\nsleep 60\n")
    await harness.gate.call(alice, "jobs.cancel", job_id=cancelled.job_id)
    harness.gate.services.watcher.latest = None  # as if squeue had long forgotten them

    async def shown_failed() -> Any:
        try:
            view = await harness.gate.call(alice, "jobs.show", job_id=failed.job_id)
        except VerbFailed:
            return None
        return view if view.job.state.value == "failed" and view.job.workdir else None

    # Accounting learns of a job a moment after the queue does.
    view = await wait_until_async(shown_failed, 30, 1)
    assert view is not None
    assert view.job.state.value == "failed" and view.job.exit_code == 3
    assert view.job.stdout == f"/home/alice/slurm-{failed.job_id}.out"

    async def shown_cancelled() -> Any:
        gone = await harness.gate.call(alice, "jobs.show", job_id=cancelled.job_id)
        return gone if gone.job.state.value == "cancelled" else None

    gone = await wait_until_async(shown_cancelled, 10, 1)
    assert gone.job.state.value == "cancelled" and gone.job.reason.startswith("by ")
    with pytest.raises(VerbDenied):
        await harness.gate.call(harness.person("bob"), "jobs.show", job_id=failed.job_id)
