"""Slurm states, mapped through one table each to enums that fall back to UNKNOWN.

A state we have never seen is logged and shown as "unknown", never guessed: a job
reported "completed" because Slurm printed something new would be a lie.
"""

from __future__ import annotations

import logging
from enum import StrEnum

log = logging.getLogger("onestop.scheduler.states")


class NodeState(StrEnum):
    IDLE = "idle"
    MIXED = "mixed"
    ALLOCATED = "allocated"
    COMPLETING = "completing"
    DRAINING = "draining"
    DRAINED = "drained"
    DOWN = "down"
    RESERVED = "reserved"
    FUTURE = "future"
    UNKNOWN = "unknown"


class PartitionState(StrEnum):
    UP = "up"
    DOWN = "down"
    DRAIN = "drain"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUSPENDED = "suspended"
    COMPLETING = "completing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    TIMEOUT = "timeout"
    NODE_FAIL = "node_fail"
    OUT_OF_MEMORY = "out_of_memory"
    PREEMPTED = "preempted"
    BOOT_FAIL = "boot_fail"
    DEADLINE = "deadline"
    REQUEUED = "requeued"
    UNKNOWN = "unknown"


_NODE_BASE = {
    "IDLE": NodeState.IDLE,
    "MIXED": NodeState.MIXED,
    "ALLOCATED": NodeState.ALLOCATED,
    "COMPLETING": NodeState.COMPLETING,
    "DOWN": NodeState.DOWN,
    "FUTURE": NodeState.FUTURE,
    "UNKNOWN": NodeState.UNKNOWN,
}

_PARTITION = {
    "UP": PartitionState.UP,
    "DOWN": PartitionState.DOWN,
    "DRAIN": PartitionState.DRAIN,
    "INACTIVE": PartitionState.INACTIVE,
}

_JOB = {state.name: state for state in JobState if state is not JobState.UNKNOWN}


def node_state(words: list[str]) -> NodeState:
    """Slurm reports a base state plus flags (``IDLE`` + ``DRAIN``); flags that change
    what a user can expect from the node win over the base state."""
    upper = {word.upper() for word in words}
    base = next((word for word in (w.upper() for w in words) if word in _NODE_BASE), None)
    if "DRAIN" in upper:
        busy = base in ("ALLOCATED", "MIXED", "COMPLETING")
        return NodeState.DRAINING if busy else NodeState.DRAINED
    if "RESERVED" in upper and base in (None, "IDLE"):
        return NodeState.RESERVED
    if base is None:
        log.warning("unrecognised Slurm node state %r", words)
        return NodeState.UNKNOWN
    return _NODE_BASE[base]


def partition_state(word: str) -> PartitionState:
    state = _PARTITION.get(word.upper())
    if state is None:
        log.warning("unrecognised Slurm partition state %r", word)
        return PartitionState.UNKNOWN
    return state


def job_state(words: list[str]) -> JobState:
    for word in words:
        state = _JOB.get(word.upper())
        if state is not None:
            return state
    log.warning("unrecognised Slurm job state %r", words)
    return JobState.UNKNOWN
