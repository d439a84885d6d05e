"""Slurm commands run inside the user's agent, so munge names the user.

Argument lists only, never a shell; the script goes to sbatch on standard input.
"""

from __future__ import annotations

import subprocess
from typing import Any

from managers.errors import OperationError
from managers.scheduler.slurm.commands import clean_environment

TIMEOUT = 30.0


def _run(argv: list[str], stdin: str | None = None) -> str:
    try:
        done = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=clean_environment(),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise OperationError("The scheduler is not answering right now.", "unavailable") from error
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise OperationError(f"The scheduler refused: {message.removeprefix('sbatch: error: ')}")
    return done.stdout


def submit(script: str, partition: str = "", name: str = "", workdir: str = "") -> dict[str, Any]:
    argv = ["/usr/bin/sbatch", "--parsable"]
    if partition:
        argv.append(f"--partition={partition}")
    if name:
        argv.append(f"--job-name={name}")
    if workdir:
        argv.append(f"--chdir={workdir}")
    output = _run(argv, stdin=script)
    job_id = output.strip().split(";")[0]
    if not job_id.isdigit():
        raise OperationError("The scheduler answered in a form the portal cannot read.")
    return {"job_id": job_id}


def cancel(job_id: str) -> dict[str, Any]:
    if not job_id.replace("_", "").isdigit():
        raise OperationError(f"{job_id!r} is not a job number.", "invalid")
    _run(["/usr/bin/scancel", job_id])
    return {"job_id": job_id}
