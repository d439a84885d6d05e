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


def job_words(state: JobState) -> str:
    return JOB_WORDS[state]


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
