"""Slurm commands run inside the user's agent, so munge names the user.

Argument lists only, never a shell; the script goes to sbatch on standard input.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from typing import Any

from managers.errors import OperationError
from managers.execution.script import JobRequest, build
from managers.scheduler.slurm.commands import clean_environment

TIMEOUT = 30.0


def run_slurm(
    argv: list[str],
    stdin: str | None = None,
    limit_seconds: float = TIMEOUT,
    refused: str = "The scheduler refused",
) -> str:
    """Run one Slurm command as this user (argument list, clean environment) and
    return its output; a failure becomes an OperationError in plain words."""
    try:
        done = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=limit_seconds,
            env=clean_environment(),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise OperationError("The scheduler is not answering right now.", "unavailable") from error
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise OperationError(f"{refused}: {message.removeprefix('sbatch: error: ')}")
    return done.stdout


def run_as_job_step(argv: list[str], partition: str, name: str) -> None:
    """Heavy work on a compute node instead of the login node: one task, waited for."""
    command = ["/usr/bin/srun", f"--partition={partition}", "--ntasks=1", f"--job-name={name}"]
    run_slurm(
        [*command, "--quiet", "--", *argv],
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
    output = run_slurm(["/usr/bin/sbatch", "--parsable"], stdin=text)
    job_id = output.strip().split(";")[0]
    if not job_id.isdigit():
        raise OperationError("The scheduler answered in a form the portal cannot read.")
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
    output = run_slurm(["/usr/bin/squeue", "--me", "--states=all", "--json"])
    try:
        jobs = json.loads(output).get("jobs", [])
    except ValueError as error:
        raise OperationError("The scheduler answered in a form the portal cannot read.") from error
    for job in jobs:
        if job.get("comment") == comment:
            return str(job.get("array_job_id") or job.get("job_id"))
    return ""


def cancel(job_id: str) -> dict[str, Any]:
    if not job_id.replace("_", "").isdigit():
        raise OperationError(f"{job_id!r} is not a job number.", "invalid")
    run_slurm(["/usr/bin/scancel", job_id])
    return {"job_id": job_id}


def hold(job_id: str) -> dict[str, Any]:
    """Keep a waiting job from starting until it is released."""
    _check_job_id(job_id)
    run_slurm(["/usr/bin/scontrol", "hold", job_id])
    return {"job_id": job_id}


def release(job_id: str) -> dict[str, Any]:
    _check_job_id(job_id)
    run_slurm(["/usr/bin/scontrol", "release", job_id])
    return {"job_id": job_id}


MAX_SCRIPT = 4 * 1024 * 1024  # Slurm's own default limit (max_script_size)


def batch_script(job_id: str) -> dict[str, Any]:
    """The job's batch script, while slurmctld still holds the job (queued, running,
    and MinJobAge after it ended); ``available`` False after that.

    scontrol answers 0 and prints nothing to standard output when it will not give
    the script (not this user's job, or forgotten), so an empty answer means "no".
    """
    _check_job_id(job_id)
    try:
        script = run_slurm(["/usr/bin/scontrol", "write", "batch_script", job_id, "-"])
    except OperationError as error:
        if error.kind == "unavailable":
            raise
        script = ""
    if not script.strip() or len(script) > MAX_SCRIPT:
        return {"job_id": job_id, "available": False, "script": ""}
    return {"job_id": job_id, "available": True, "script": script}


def _check_job_id(job_id: str) -> None:
    if not job_id.replace("_", "").isdigit():
        raise OperationError(f"{job_id!r} is not a job number.", "invalid")
