"""Slurm commands run inside the user's agent, so munge names the user.

The commands themselves (argument lists, how their answers read) are the portal's
own, from managers/scheduler/slurm/batch.py, run through the one runner that
honours ``slurm.bin_dir`` (managers/scheduler/slurm/commands.py); the script goes
to sbatch on standard input. Here they become the agent's answers in plain words.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, TypeVar

from managers.errors import OperationError
from managers.execution.script import JobRequest, build
from managers.scheduler.errors import SchedulerError
from managers.scheduler.slurm import batch
from managers.scheduler.slurm.commands import Command, agent_bin_dir, call_sync

T = TypeVar("T")

TIMEOUT = 30.0


def run_slurm(
    command: Command[T],
    limit_seconds: float = TIMEOUT,
    refused: str = "The scheduler refused",
) -> T:
    """Run one Slurm command as this user (in the agent's slurm.bin_dir) and read its
    answer; a failure becomes an OperationError in plain words: ``refused`` and the
    scheduler's own reason when it said no, "unavailable" when it did not answer."""
    try:
        return call_sync(agent_bin_dir(), command, limit_seconds)
    except SchedulerError as error:
        if error.kind == "refused":
            raise OperationError(
                f"{refused}: {error.refusal.removeprefix('sbatch: error: ')}"
            ) from error
        if error.kind in ("unreadable", "invalid"):
            raise OperationError(error.message) from error
        raise OperationError("The scheduler is not answering right now.", "unavailable") from error


def run_as_job_step(argv: list[str], partition: str, name: str) -> None:
    """Heavy work on a compute node instead of the login node: one task, waited for."""
    run_slurm(
        batch.job_step(argv, partition, name),
        limit_seconds=3600,
        refused="The work on the cluster failed",
    )


def submit(script: str, token: str = "", **fields: Any) -> dict[str, Any]:
    """Submit as this user; with a ``token``, at most once.

    The token goes into the job's comment. A retried submission (the first answer
    was lost) finds the job by its token instead of starting a second one.
    """
    comment = f"onestop:{token}" if token else ""
    if token:
        with _SUBMITTED_LOCK:
            known = _SUBMITTED.get(token)
        # Every earlier use of a token issued after this agent started came through
        # this agent, so its memory is the whole truth; an older token may have been
        # used by an agent before it, so the queue is asked (slower, and rare).
        existing = known or ("" if _issued_after_start(token) else _job_with_comment(comment))
        if existing:
            return {"job_id": existing, "reused": True}
    allowed = {key: value for key, value in fields.items() if key in SUBMIT_FIELDS}
    workdir = str(allowed.get("workdir") or "")
    if workdir and not (os.path.isdir(workdir) and os.access(workdir, os.W_OK | os.X_OK)):
        # Checked here, as the person: Slurm would only notice when the job starts.
        raise OperationError(
            f"You cannot run a job in {workdir}: it is not a folder you may write to.",
            "EACCES",
        )
    text = build(JobRequest(script=script, comment=comment, **allowed))
    job_id = run_slurm(batch.submit(text))
    if token:
        with _SUBMITTED_LOCK:
            _SUBMITTED[token] = job_id
    return {"job_id": job_id, "reused": False}


_STARTED = time.time()
_SUBMITTED: dict[str, str] = {}
_SUBMITTED_LOCK = threading.Lock()


def _issued_after_start(token: str) -> bool:
    """Form tokens start with the second they were issued (``<unix time>-<random>``)."""
    issued, _, _ = token.partition("-")
    return issued.isdigit() and int(issued) >= _STARTED


SUBMIT_FIELDS = frozenset(
    {
        "name",
        "partition",
        "nodes",
        "ntasks",
        "cpus_per_task",
        "memory_mb",
        "time_minutes",
        "workdir",
        "array",
    }
)


def _job_with_comment(comment: str) -> str:
    """This user's job carrying ``comment`` (queued, running or just finished, which
    squeue keeps for MinJobAge), or ""."""
    return run_slurm(batch.job_with_comment(comment))


def cancel(job_id: str) -> dict[str, Any]:
    """Cancel the job; one Slurm has already forgotten is cancelled enough."""
    _check_job_id(job_id)
    run_slurm(batch.cancel(job_id))
    return {"job_id": job_id}


def hold(job_id: str) -> dict[str, Any]:
    """Keep a waiting job from starting until it is released."""
    _check_job_id(job_id)
    run_slurm(batch.hold(job_id))
    return {"job_id": job_id}


def release(job_id: str) -> dict[str, Any]:
    _check_job_id(job_id)
    run_slurm(batch.release(job_id))
    return {"job_id": job_id}


def batch_script(job_id: str) -> dict[str, Any]:
    """The job's batch script, while slurmctld still holds the job (queued, running,
    and MinJobAge after it ended); ``available`` False after that (see
    batch.batch_script)."""
    _check_job_id(job_id)
    script = run_slurm(batch.batch_script(job_id))
    return {"job_id": job_id, "available": bool(script), "script": script}


def _check_job_id(job_id: str) -> None:
    if not batch.JOB_ID.fullmatch(job_id):
        raise OperationError(f"{job_id!r} is not a job number.", "invalid")
