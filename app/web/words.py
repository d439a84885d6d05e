"""Scheduler states and sizes in words a first-year student understands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from managers.scheduler import Job, JobState, NodeState, PartitionState

NODE_WORDS = {
    NodeState.IDLE: "free",
    NodeState.MIXED: "partly busy",
    NodeState.ALLOCATED: "busy",
    NodeState.COMPLETING: "finishing jobs",
    NodeState.DRAINING: "finishing, then maintenance",
    NodeState.DRAINED: "in maintenance",
    NodeState.DOWN: "down",
    NodeState.RESERVED: "reserved",
    NodeState.FUTURE: "not yet in service",
    NodeState.FAILING: "failing, takes no new jobs",
    NodeState.INVALID: "set up wrongly, out of service",
    NodeState.NOT_RESPONDING: "not answering",
    NodeState.MAINTENANCE: "booked for maintenance",
    NodeState.REBOOT_PENDING: "will restart when its jobs end",
    NodeState.REBOOTING: "restarting",
    NodeState.POWERED_DOWN: "switched off until a job needs it",
    NodeState.POWERING_UP: "starting up",
    NodeState.POWERING_DOWN: "switching off",
    NodeState.PLANNED: "kept free for a waiting job",
    NodeState.BLOCKED: "kept for another job",
    NodeState.UNKNOWN: "unknown",
}

PARTITION_WORDS = {
    PartitionState.UP: "open",
    PartitionState.DOWN: "closed",
    PartitionState.DRAIN: "not taking new jobs",
    PartitionState.INACTIVE: "inactive",
    PartitionState.UNKNOWN: "unknown",
}

JOB_WORDS = {
    JobState.PENDING: "waiting",
    JobState.RUNNING: "running",
    JobState.SUSPENDED: "paused",
    JobState.COMPLETING: "finishing",
    JobState.COMPLETED: "finished",
    JobState.CANCELLED: "cancelled",
    JobState.FAILED: "failed",
    JobState.TIMEOUT: "ran out of time",
    JobState.NODE_FAIL: "a node failed",
    JobState.OUT_OF_MEMORY: "ran out of memory",
    JobState.PREEMPTED: "pre-empted",
    JobState.BOOT_FAIL: "node failed to start",
    JobState.DEADLINE: "missed its deadline",
    JobState.REQUEUED: "put back in the queue",
    JobState.CONFIGURING: "starting",
    JobState.RESIZING: "changing size",
    JobState.REQUEUE_HOLD: "put back in the queue, on hold",
    JobState.REQUEUE_FED: "put back in the queue by another cluster",
    JobState.SPECIAL_EXIT: "on hold after a special exit code",
    JobState.STOPPED: "stopped for now",
    JobState.SIGNALING: "being sent a signal",
    JobState.STAGE_OUT: "copying its results out",
    JobState.REVOKED: "runs on another cluster",
    JobState.RESV_DEL_HOLD: "on hold: its reservation was removed",
    JobState.UNKNOWN: "unknown",
}


def node_words(state: NodeState) -> str:
    return NODE_WORDS[state]


def partition_words(state: PartitionState) -> str:
    return PARTITION_WORDS[state]


@dataclass(frozen=True)
class JobClaim:
    """A job a tool started for someone (a notebook session's): what lists call it,
    the tool's page it belongs to, and what its job page says instead of offering
    Resubmit (starting it again is the tool's business)."""

    words: str
    url: str
    # "<sentence> <a href=url>link</a> after" on the job's page.
    sentence: str
    link: str
    after: str = ""


# claim(job name) -> the claim when the job is the tool's, else None (Tool.claim_job)
ClaimJob = Callable[[str], JobClaim | None]


class JobNames:
    """Jobs by name as people read them, asking each tool whether a job is its own."""

    def __init__(self, claims: Sequence[ClaimJob] = ()) -> None:
        self._claims = tuple(claims)

    def claim(self, name: str) -> JobClaim | None:
        for claim in self._claims:
            found = claim(name)
            if found is not None:
                return found
        return None

    def words(self, name: str) -> str:
        """A job's name as lists show it: a tool's own job says what it is."""
        found = self.claim(name)
        return found.words if found is not None else name


def job_words(state: JobState | str) -> str:
    """Plain words for a state (or its value, as array rows count them)."""
    return JOB_WORDS[JobState(state)]


def duration_words(minutes: int | None) -> str:
    if minutes is None:
        return "no limit"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if mins or not parts:
        parts.append(f"{mins} minute{'s' if mins != 1 else ''}")
    return " ".join(parts)


def seconds_words(seconds: float) -> str:
    """``45 seconds``, ``12 minutes``, ``1 hour 5 minutes``, ``2 days 3 hours``:
    the two largest units, so a long run does not read like a stopwatch."""
    whole = round(seconds)
    if whole < 60:
        return plural(whole, "second")
    minutes = whole // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = [(days, "day"), (hours, "hour"), (mins, "minute")]
    first = next(i for i, (amount, _) in enumerate(units) if amount)
    shown = [plural(amount, unit) for amount, unit in units[first : first + 2] if amount]
    return " ".join(shown)


def plural(amount: int, unit: str) -> str:
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def clock_words(job: Job, now: datetime | None = None) -> str:
    """How long a job has waited or run, and the time it has left, as of ``now``.

    "waiting 3 minutes", "running 12 minutes, 48 minutes left", "ran 5 minutes".
    Shown on the lists; each live update redraws it, so it is never far behind.
    """
    now = now or datetime.now(UTC)

    def since(start: datetime | None, end: datetime | None = None) -> float | None:
        if start is None:
            return None
        return max(0.0, ((end or now) - start).total_seconds())

    if job.state is JobState.PENDING:
        waited = since(job.submitted_at)
        return f"waiting {seconds_words(waited)}" if waited is not None else "waiting"
    # Holding its nodes: running, starting, finishing, or paused in place.
    if job.state is JobState.SUSPENDED or (job.state.is_active and not job.state.is_waiting):
        ran = since(job.started_at)
        if ran is None:
            return "running"
        text = f"running {seconds_words(ran)}"
        if job.time_limit_minutes is not None:
            text += f", {seconds_words(max(0.0, job.time_limit_minutes * 60 - ran))} left"
        return text
    ran = since(job.started_at, job.ended_at) if job.ended_at else None
    return f"ran {seconds_words(ran)}" if ran is not None else ""


def memory_words(megabytes: int) -> str:
    if megabytes >= 1024:
        return f"{megabytes / 1024:.1f} GB"
    return f"{megabytes} MB"


REASON_WORDS = {
    "None": "",
    "Resources": "waiting for free nodes",
    "Priority": "other jobs are ahead of yours",
    "Dependency": "waiting for another job to finish first",
    "DependencyNeverSatisfied": "it waits for a job that failed, so it will never start",
    "BeginTime": "waiting for its chosen start time",
    "JobHeldUser": "on hold (you held it)",
    "JobHeldAdmin": "on hold by the HPC team",
    "QOSMaxJobsPerUserLimit": "you have reached your running-job limit",
    "QOSMaxSubmitJobPerUserLimit": "you have reached your limit of queued jobs",
    "AssocGrpCpuLimit": "your project is using all the CPUs it may",
    "AssocGrpJobsLimit": "your project has reached its running-job limit",
    "AssocMaxJobsLimit": "you have reached your running-job limit",
    "PartitionDown": "the partition is closed for now",
    "PartitionInactive": "the partition is closed for now",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "PartitionTimeLimit": "it asks for more time than the partition allows",
    "ReqNodeNotAvail": "a node it needs is not available (maintenance?)",
    "NodeDown": "a node it needs is down",
    "Reservation": "waiting for its reservation to start",
    "launch failed requeued held": "it failed to start and is on hold",
}


def reason_words(reason: str) -> str:
    """Slurm's pending reason in plain words; unknown codes are shown as they are."""
    if reason in REASON_WORDS:
        return REASON_WORDS[reason]
    return reason
