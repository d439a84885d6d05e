"""The Slurm commands that change jobs, and the few that look one job up, built once.

Each function returns a ``Command``: the argument list and how to read the answer.
The portal's SlurmAdapter runs them with ``commands.call``; a person's agent runs
the very same ones as her with ``commands.call_sync`` (managers/execution and
managers/notebooks), so sbatch's and scancel's arguments and answers are read in
one place whoever runs them.

Cancel, hold and release are idempotent, as in Open OnDemand's ood_core: a job that
Slurm no longer knows ("Invalid job id specified": it ended and was forgotten) has
nothing left to cancel, hold or release, so that is not an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from managers.scheduler.errors import SchedulerError
from managers.scheduler.slurm.commands import Command

__all__ = [
    "batch_script",
    "cancel",
    "cancel_named",
    "hold",
    "job_named",
    "job_step",
    "job_with_comment",
    "release",
    "submit",
]

JOB_ID = re.compile(r"^[0-9]+(_[0-9]+)?$")
# Slurm's own default limit (max_script_size): anything longer is not a script.
MAX_SCRIPT = 4 * 1024 * 1024
UNREADABLE = "The scheduler answered in a form the portal cannot read."


def _job(job_id: str) -> str:
    """A job id as an argument; anything else (an option, say) is a caller's bug."""
    if not JOB_ID.fullmatch(job_id):
        raise ValueError(f"{job_id!r} is not a job number.")
    return job_id


def _nothing(_output: str) -> None:
    return None


def _gone_is_done(error: SchedulerError) -> None:
    """A job Slurm no longer knows has nothing left to cancel, hold or release."""
    if "Invalid job id specified" in error.refusal:
        return None
    raise error


def _submitted(output: str) -> str:
    """``sbatch --parsable`` prints ``<id>`` or ``<id>;<cluster>``."""
    job_id = output.strip().split(";")[0]
    if not job_id.isdigit():
        raise SchedulerError(UNREADABLE, f"sbatch printed {output[:200]!r}", kind="unreadable")
    return job_id


def submit(script: str, options: Sequence[str] = ()) -> Command[str]:
    """``sbatch --parsable`` with ``options``, the script on standard input; the new
    job's id. Options must come from code (each one ``--name=value``), never as
    written by a person."""
    for option in options:
        if not option.startswith("--"):
            raise ValueError(f"sbatch option {option!r} must be written --name=value.")
    return Command(("sbatch", "--parsable", *options), _submitted, stdin=script)


def cancel(job_id: str) -> Command[None]:
    return Command(("scancel", _job(job_id)), _nothing, refused=_gone_is_done)


def cancel_named(user: str, name: str) -> Command[None]:
    """Every job of ``user`` called ``name`` (a job whose number never arrived)."""
    return Command(("scancel", f"--user={user}", f"--name={name}"), _nothing, refused=_gone_is_done)


def hold(job_id: str) -> Command[None]:
    """Keep a waiting job from starting until it is released."""
    return Command(("scontrol", "hold", _job(job_id)), _nothing, refused=_gone_is_done)


def release(job_id: str) -> Command[None]:
    return Command(("scontrol", "release", _job(job_id)), _nothing, refused=_gone_is_done)


def _script(output: str) -> str:
    return "" if not output.strip() or len(output) > MAX_SCRIPT else output


def batch_script(job_id: str) -> Command[str]:
    """The job's batch script while slurmctld still holds the job (queued, running,
    and MinJobAge after it ended), or "" once it does not.

    scontrol answers 0 and prints nothing to standard output when it will not give
    the script (not the caller's job, or forgotten), so an empty answer means "no",
    and so does a refusal.
    """
    return Command(
        ("scontrol", "write", "batch_script", _job(job_id), "-"),
        _script,
        refused=lambda _error: "",
    )


def job_with_comment(comment: str) -> Command[str]:
    """The caller's job carrying ``comment`` (queued, running or just finished, which
    squeue keeps for MinJobAge), or ""."""

    def read(output: str) -> str:
        try:
            jobs = json.loads(output).get("jobs", [])
        except (ValueError, AttributeError) as error:
            raise SchedulerError(UNREADABLE, repr(error), kind="unreadable") from error
        for job in jobs:
            if job.get("comment") == comment:
                return str(job.get("array_job_id") or job.get("job_id"))
        return ""

    return Command(("squeue", "--me", "--states=all", "--json"), read)


def job_named(name: str) -> Command[str]:
    """The caller's job called ``name`` still in the queue, or ""."""

    def read(output: str) -> str:
        found = output.split()
        return found[0] if found else ""

    return Command(("squeue", "--me", "--noheader", f"--name={name}", "--format=%i"), read)


def job_step(argv: Sequence[str], partition: str, name: str) -> Command[None]:
    """``argv`` as one task on a compute node of ``partition``, waited for."""
    return Command(
        (
            "srun",
            f"--partition={partition}",
            "--ntasks=1",
            f"--job-name={name}",
            "--quiet",
            "--",
            *argv,
        ),
        _nothing,
    )
