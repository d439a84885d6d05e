"""The scheduler adapter interface, reads and writes. Slurm is the one implementation
today (managers/scheduler/slurm); a pyslurm or slurmrestd driver would be another.

Each method documents its result and raises SchedulerError, never a driver-specific
exception. The writes (submit, cancel, hold, release) act as whoever runs the
adapter: in the portal that is its service account, so a person's own jobs are
submitted and changed in her agent, as her, through the same Slurm command layer
(managers/execution/operations.py). Cancel, hold and release are idempotent: a job
the scheduler no longer knows has nothing left to do, and that is no error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from datetime import datetime

from managers.execution.script import JobRequest
from managers.scheduler.models import ClusterSnapshot, Job, JobUsage
from managers.scheduler.states import JobState


class SchedulerAdapter(ABC):
    """What the portal asks of a scheduler. A driver overrides every method."""

    @abstractmethod
    async def snapshot(self) -> ClusterSnapshot:
        """Partitions, nodes and queued/running jobs of the whole cluster.

        Raises SchedulerError when the scheduler does not answer.
        """

    @abstractmethod
    async def job_ownership(self, job_id: str) -> tuple[str, str] | None:
        """(owner, account) of the job, queued, running or finished; None if unknown.

        Raises SchedulerError when the scheduler does not answer.
        """

    @abstractmethod
    async def job_record(self, job_id: str) -> Job | None:
        """The job as accounting remembers it, finished ones included; None if unknown.

        Raises SchedulerError when the scheduler does not answer.
        """

    @abstractmethod
    async def history(
        self,
        user: str,
        since: datetime,
        until: datetime,
        states: Collection[JobState] = (),
        name: str = "",
    ) -> list[JobUsage]:
        """The user's jobs that were waiting or running at some time between ``since``
        and ``until``, newest submission first, each with what it asked for and used.

        ``states`` keeps only jobs in one of those states (empty: all); ``name`` keeps
        only jobs whose name contains it, ignoring case. Raises SchedulerError when
        the scheduler does not answer.
        """

    @abstractmethod
    async def submit(self, request: JobRequest) -> str:
        """Submit ``request`` as a batch job; the new job's id (``"1234"``).

        Raises SchedulerError: kind "invalid" when the request cannot be written as
        a batch script, "refused" with the scheduler's reason in ``refusal`` when it
        will not take the job, "unavailable" when it does not answer.
        """

    @abstractmethod
    async def cancel(self, job_id: str) -> None:
        """Cancel the job (queued or running); a job already gone is no error.

        Raises SchedulerError: "refused" when the scheduler will not (not the
        caller's job), "invalid" for something that is not a job id, "unavailable".
        """

    @abstractmethod
    async def hold(self, job_id: str) -> None:
        """Keep a waiting job from starting until it is released; holding a held job,
        or one already gone, is no error. Raises SchedulerError as ``cancel``."""

    @abstractmethod
    async def release(self, job_id: str) -> None:
        """Let a held job start again; releasing a job that is not held, or one
        already gone, is no error. Raises SchedulerError as ``cancel``."""

    @abstractmethod
    async def script(self, job_id: str) -> str | None:
        """The job's batch script as the scheduler keeps it, or None once it has let
        go of it (Slurm: MinJobAge after the job ended) or will not show it to the
        caller. Raises SchedulerError when the scheduler does not answer."""
