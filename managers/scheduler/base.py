"""The scheduler adapter interface. Slurm is the one implementation today.

Later issues add submit, cancel, hold, release and history; each method documents
its result and raises SchedulerError, never a driver-specific exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from datetime import datetime

from managers.scheduler.models import ClusterSnapshot, Job, JobUsage
from managers.scheduler.states import JobState


class SchedulerAdapter(ABC):
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
