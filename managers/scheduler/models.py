"""What the portal knows about the cluster, independent of the scheduler's formats."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from managers.scheduler.states import JobState, NodeState, PartitionState


class Node(BaseModel):
    name: str
    state: NodeState
    # Where the node is reached (Slurm's NodeAddr): a notebook server on it must listen
    # here and nowhere else.
    address: str = ""
    cpus: int = 0
    cpus_allocated: int = 0
    memory_mb: int = 0
    partitions: list[str] = []
    reason: str = ""


class Partition(BaseModel):
    name: str
    state: PartitionState
    nodes: list[str] = []
    is_default: bool = False
    max_time_minutes: int | None = None  # None: no limit
    total_cpus: int = 0


class Job(BaseModel):
    job_id: str
    name: str
    user: str
    account: str = ""
    partition: str = ""
    state: JobState
    reason: str = ""
    nodes: str = ""
    node_count: int = 0
    cpus: int = 0
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    time_limit_minutes: int | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    workdir: str = ""
    stdout: str = ""
    stderr: str = ""


class ClusterSnapshot(BaseModel):
    """One consistent reading of the cluster; ``reachable`` False means "unknown"."""

    reachable: bool = True
    error: str = ""
    taken_at: datetime
    partitions: list[Partition] = []
    nodes: list[Node] = []
    jobs: list[Job] = []

    def jobs_of(self, user: str) -> list[Job]:
        return [job for job in self.jobs if job.user == user]

    def active_jobs_of(self, user: str) -> list[Job]:
        """Waiting or running; finished jobs linger in squeue for a few minutes."""
        return [job for job in self.jobs_of(user) if job.state.is_active]


class JobUsage(BaseModel):
    """A job as accounting remembers it, with what it asked for next to what it used.

    ``None`` means "not measured", never zero: a job too short for the memory
    sampler has no peak, and a running job's CPU time is only added up at its end.
    """

    job: Job
    elapsed_seconds: int = 0
    cpu_seconds: float | None = None  # summed over all its steps (TotalCPU)
    memory_requested_kb: int | None = None  # for the whole job (ReqMem)
    # The busiest step's largest task times its task count (MaxRSS x NTasks): exact for
    # one task, an upper bound for several, since Slurm keeps only the largest.
    memory_peak_kb: int | None = None
