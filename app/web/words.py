"""Scheduler states and sizes in words a first-year student understands."""

from __future__ import annotations

from managers.scheduler import JobState, NodeState, PartitionState

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
    JobState.UNKNOWN: "unknown",
}


def node_words(state: NodeState) -> str:
    return NODE_WORDS[state]


def partition_words(state: PartitionState) -> str:
    return PARTITION_WORDS[state]


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
