"""The Slurm implementation of SchedulerAdapter.

Two layers, as in ood_core: the commands (``commands.py`` runs them, ``batch.py``
builds the ones that change jobs) and this adapter, which maps the portal's models
onto them. Slurm 22.05's ``sinfo --json`` lists nodes but not partitions, and its
``scontrol`` has no ``--json``; partitions therefore come from ``scontrol --oneliner``.
"""

from __future__ import annotations

import asyncio
import json
import pwd
import re
from collections import OrderedDict
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from managers.errors import OperationError
from managers.execution.script import JobRequest, build
from managers.scheduler.base import SchedulerAdapter
from managers.scheduler.errors import SchedulerError
from managers.scheduler.models import ClusterSnapshot, Job, JobUsage
from managers.scheduler.slurm import batch, parse, parse_history
from managers.scheduler.slurm.commands import DEFAULT_BIN_DIR, call, check_bin_dir, run
from managers.scheduler.states import JobState

FINISHED_KEPT = 4096


class SlurmAdapter(SchedulerAdapter):
    def __init__(self, bin_dir: str = DEFAULT_BIN_DIR, timeout: float = 20.0) -> None:
        """``bin_dir``: where Slurm's commands are (ValueError unless absolute)."""
        self.bin_dir = check_bin_dir(bin_dir)
        self.timeout = timeout
        # Accounting's record of a finished job never changes: kept, so reopening an
        # old job's page asks Slurm nothing. Bounded, oldest out.
        self._finished: OrderedDict[str, Job] = OrderedDict()

    async def _json(self, argv: list[str]) -> dict[str, Any]:
        output = await run(self.bin_dir, argv, self.timeout)
        try:
            data = json.loads(output)
        except json.JSONDecodeError as error:
            raise SchedulerError(batch.UNREADABLE, str(error), kind="unreadable") from error
        if not isinstance(data, dict):
            raise SchedulerError(batch.UNREADABLE, kind="unreadable")
        return data

    async def snapshot(self) -> ClusterSnapshot:
        """One reading of the whole cluster, three commands in parallel.

        Raises SchedulerError if any command fails (the others are cancelled) or if
        the output has a shape the parser does not know.
        """
        try:
            async with asyncio.TaskGroup() as group:
                sinfo = group.create_task(self._json(["sinfo", "--json"]))
                squeue = group.create_task(self._json(["squeue", "--all", "--json"]))
                scontrol = group.create_task(
                    run(self.bin_dir, ["scontrol", "--oneliner", "show", "partition"], self.timeout)
                )
        except ExceptionGroup as group:
            failures = group.subgroup(SchedulerError)
            if failures is None:
                raise
            first = failures.exceptions[0]
            assert isinstance(first, SchedulerError)
            raise first from None
        try:
            return parse.snapshot(sinfo.result(), squeue.result(), scontrol.result())
        except (KeyError, TypeError, ValueError) as error:  # pydantic errors are ValueErrors
            raise SchedulerError(batch.UNREADABLE, repr(error), kind="unreadable") from error

    async def job_ownership(self, job_id: str) -> tuple[str, str] | None:
        """Who owns a job and under which account (queued, running or finished), or
        None if the scheduler does not know it."""
        job = await self.job_record(job_id)
        if job is None and job_id.isdigit():
            job = await self._first_task(job_id)  # an array, named by its own number
        return (job.user, job.account) if job is not None and job.user else None

    async def _first_task(self, array_id: str) -> Job | None:
        """Any task of array ``array_id`` (they share owner and account), or None."""
        prefix = f"{array_id}_"
        try:
            for job in parse.jobs(await self._json(["squeue", "--json", "--jobs", array_id])):
                if job.job_id.startswith(prefix):
                    return job
        except SchedulerError:
            pass  # squeue refuses ids it no longer knows
        for line in (await self._accounting(array_id)).splitlines():
            remembered = parse.accounting_job(line)
            if remembered is not None and remembered.job_id.startswith(prefix):
                return remembered
        return None

    async def _accounting(self, job_id: str) -> str:
        return await run(
            self.bin_dir,
            [
                "sacct",
                "--noheader",
                "--allocations",
                "--parsable2",
                "--format=" + ",".join(parse.ACCOUNTING_FIELDS),
                "-j",
                job_id,
            ],
            self.timeout,
        )

    async def job_record(self, job_id: str) -> Job | None:
        """A job as the queue shows it, or as accounting remembers it (any age), or
        None if it never existed. The queue first: accounting learns of a new job a
        moment later."""
        base = job_id.split("_", 1)[0]
        if not base.replace("_", "").isdigit():
            return None
        if job_id in self._finished:
            self._finished.move_to_end(job_id)
            return self._finished[job_id]
        queued: Job | None = None
        try:
            for job in parse.jobs(await self._json(["squeue", "--json", "--jobs", base])):
                if job.job_id == job_id:
                    queued = job
        except SchedulerError:
            pass  # squeue refuses ids it no longer knows
        if queued is not None and queued.state.is_active:
            return queued  # still in the queue: the queue knows best
        for line in (await self._accounting(job_id)).splitlines():
            remembered = parse.accounting_job(line)
            if remembered is not None and remembered.job_id == job_id:
                # finished: accounting knows the exit code and who
                # (only once complete: slurmdbd fills a record in a few steps)
                if (
                    remembered.state.is_final
                    and remembered.ended_at is not None
                    and remembered.workdir
                ):
                    self._finished[job_id] = remembered
                    if len(self._finished) > FINISHED_KEPT:
                        self._finished.popitem(last=False)
                return remembered
        return queued

    async def history(
        self,
        user: str,
        since: datetime,
        until: datetime,
        states: Collection[JobState] = (),
        name: str = "",
    ) -> list[JobUsage]:
        """The user's jobs from accounting, steps folded in (see parse_history).

        Like job_record, this runs sacct in the portal's own process, not in the
        person's agent: the verb gate has already decided who may read whose
        history, and one reader keeps it the same for owners and staff. It needs an
        account that may read every user's accounting (root, SlurmUser or a Slurm
        operator) wherever PrivateData hides jobs from other users.

        sacct's own ``--state`` means "was in that state during the window", not
        "ended that way", and ``--name`` matches whole names only, so both filters
        are applied here. A user unknown to this machine has no history (sacct
        would fail on the name).
        """
        try:
            pwd.getpwnam(user)
        except KeyError:
            return []
        output = await run(
            self.bin_dir,
            [
                "sacct",
                "--noheader",
                "--parsable2",
                f"--user={user}",
                f"--starttime={_local(since)}",
                f"--endtime={_local(until)}",
                "--format=" + ",".join(parse_history.HISTORY_FIELDS),
            ],
            self.timeout,
        )
        wanted = set(states)
        needle = name.casefold()
        jobs = [
            usage
            for usage in parse_history.history(output)
            if (not wanted or usage.job.state in wanted)
            and needle in usage.job.name.casefold()
            and usage.job.user == user
        ]
        return sorted(jobs, key=_newest_first, reverse=True)

    async def submit(self, request: JobRequest) -> str:
        """``request`` as a batch script (managers/execution/script.build) to
        ``sbatch --parsable``, as this process's own user; the new job's id."""
        try:
            script = build(request)
        except OperationError as error:
            raise SchedulerError(error.message, kind="invalid") from error
        return await call(self.bin_dir, batch.submit(script), self.timeout)

    async def cancel(self, job_id: str) -> None:
        await call(self.bin_dir, batch.cancel(_job_id(job_id)), self.timeout)

    async def hold(self, job_id: str) -> None:
        await call(self.bin_dir, batch.hold(_job_id(job_id)), self.timeout)

    async def release(self, job_id: str) -> None:
        await call(self.bin_dir, batch.release(_job_id(job_id)), self.timeout)

    async def script(self, job_id: str) -> str | None:
        script = await call(self.bin_dir, batch.batch_script(_job_id(job_id)), self.timeout)
        return script or None


def _job_id(job_id: str) -> str:
    if not batch.JOB_ID.fullmatch(job_id):
        raise SchedulerError(f"{job_id!r} is not a job number.", kind="invalid")
    return job_id


def _newest_first(usage: JobUsage) -> tuple[datetime, list[int]]:
    """By submission, then by id (``12_3`` as 12, 3): a script often submits several
    jobs within one second."""
    never = datetime.min.replace(tzinfo=UTC)
    numbers = [int(part) for part in re.findall(r"\d+", usage.job.job_id)]
    return usage.job.submitted_at or never, numbers


def _local(moment: datetime) -> str:
    """sacct reads times in the local time zone of the machine it runs on."""
    return moment.astimezone().strftime("%Y-%m-%dT%H:%M:%S")
