"""Slurm states, mapped through one table each to enums that fall back to UNKNOWN.

A state we have never seen is logged and shown as "unknown", never guessed: a job
reported "completed" because Slurm printed something new would be a lie.

The tables cover every state and flag that Slurm 22.05 to 26.05 can print (Slurm's
``job_state_string``, ``job_state_string_complete`` and ``node_state_string`` in
``src/common/slurm_protocol_defs.c``, and the state lists of ``--json`` output).
Slurm gives a base state plus flags: 22.05 prints one word (a flag when one is set,
``CONFIGURING``), 23.02 and later print the base and its flags as a list
(``["RUNNING", "CONFIGURING"]``). Both shapes map to the same state here, so a
site's upgrade changes nothing a person sees.

Whether a job is waiting, still in the scheduler's hands or over is decided here
and nowhere else: ``JobState.is_waiting``, ``is_active`` and ``is_final``.
"""

from __future__ import annotations

import logging
from enum import StrEnum

log = logging.getLogger("onestop.scheduler.states")


class NodeState(StrEnum):
    """What a person can expect from a node (not every Slurm flag: several flags
    mean the same thing to someone who wants to run a job)."""

    IDLE = "idle"
    MIXED = "mixed"
    ALLOCATED = "allocated"
    COMPLETING = "completing"
    DRAINING = "draining"
    DRAINED = "drained"
    DOWN = "down"
    RESERVED = "reserved"
    FUTURE = "future"
    # Slurm's FAIL flag: expected to fail soon, takes no new work.
    FAILING = "failing"
    # INVALID_REG: registered with less than slurm.conf says it has.
    INVALID = "invalid"
    NOT_RESPONDING = "not_responding"
    # In a reservation with the MAINT flag.
    MAINTENANCE = "maintenance"
    # REBOOT_REQUESTED: restarts once its jobs are done; REBOOT_ISSUED: restarting.
    REBOOT_PENDING = "reboot_pending"
    REBOOTING = "rebooting"
    # Power saving: a powered-down node is started again when a job needs it.
    POWERED_DOWN = "powered_down"
    POWERING_UP = "powering_up"
    POWERING_DOWN = "powering_down"
    # Kept free by the scheduler for a waiting job of higher priority.
    PLANNED = "planned"
    # Blocked by a job that asked for a whole topology block (Slurm 24.11+).
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


class PartitionState(StrEnum):
    UP = "up"
    DOWN = "down"
    DRAIN = "drain"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"


class JobState(StrEnum):
    """A job's state, with Slurm's flags that change what its owner can expect."""

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
    # Allocated, its nodes still booting or its prolog running (every demo job).
    CONFIGURING = "configuring"
    RESIZING = "resizing"
    REQUEUE_HOLD = "requeue_hold"
    # Requeued because of its sibling on another cluster of a federation.
    REQUEUE_FED = "requeue_fed"
    # Requeued and held because it ended with the site's special exit code.
    SPECIAL_EXIT = "special_exit"
    # Sent SIGSTOP: keeps its nodes but does not run.
    STOPPED = "stopped"
    SIGNALING = "signaling"
    # Its burst buffer's data is being copied out after the script ended.
    STAGE_OUT = "stage_out"
    # A federation sibling that will not run here (it runs on another cluster).
    REVOKED = "revoked"
    # Held because the reservation it asked for was deleted.
    RESV_DEL_HOLD = "resv_del_hold"
    UNKNOWN = "unknown"

    @property
    def is_waiting(self) -> bool:
        """Not running now, and will (or may, once released) run later: queued,
        held, requeued, or paused while keeping its place."""
        return self in _WAITING

    @property
    def is_active(self) -> bool:
        """Still in the scheduler's hands: waiting, running or finishing. Cancelling
        it means something, and its page keeps following it."""
        return self in _WAITING or self in _RUNNING

    @property
    def is_final(self) -> bool:
        """Over for good: its state will not change again. UNKNOWN is neither
        active nor final, so nothing is reported ended on a guess."""
        return self in _FINAL


_WAITING = frozenset(
    {
        JobState.PENDING,
        JobState.REQUEUED,
        JobState.REQUEUE_HOLD,
        JobState.REQUEUE_FED,
        JobState.SPECIAL_EXIT,
        JobState.RESV_DEL_HOLD,
        JobState.SUSPENDED,
        JobState.STOPPED,
    }
)
# Holding nodes and running, or finishing up (the epilog, the burst buffer's copy).
_RUNNING = frozenset(
    {
        JobState.RUNNING,
        JobState.CONFIGURING,
        JobState.RESIZING,
        JobState.SIGNALING,
        JobState.COMPLETING,
        JobState.STAGE_OUT,
    }
)
_FINAL = frozenset(
    {
        JobState.COMPLETED,
        JobState.CANCELLED,
        JobState.FAILED,
        JobState.TIMEOUT,
        JobState.NODE_FAIL,
        JobState.OUT_OF_MEMORY,
        JobState.PREEMPTED,
        JobState.BOOT_FAIL,
        JobState.DEADLINE,
        JobState.REVOKED,
    }
)

# Slurm's base job states.
_JOB_BASE = {
    state.name: state
    for state in (
        JobState.PENDING,
        JobState.RUNNING,
        JobState.SUSPENDED,
        JobState.COMPLETED,
        JobState.CANCELLED,
        JobState.FAILED,
        JobState.TIMEOUT,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
        JobState.BOOT_FAIL,
        JobState.DEADLINE,
        JobState.OUT_OF_MEMORY,
    )
}
# Flags that change what the owner can expect, so they win over the base state, in
# the order Slurm's own job_state_string picks one: a cancelled job still COMPLETING
# is not over yet, a PENDING one in REQUEUE_HOLD will not start until released.
_JOB_FLAGS_FIRST = {
    "COMPLETING": JobState.COMPLETING,
    "STAGE_OUT": JobState.STAGE_OUT,
    "REQUEUED": JobState.REQUEUED,
    "REQUEUE_FED": JobState.REQUEUE_FED,
    "REQUEUE_HOLD": JobState.REQUEUE_HOLD,
    "SPECIAL_EXIT": JobState.SPECIAL_EXIT,
    "STOPPED": JobState.STOPPED,
    "REVOKED": JobState.REVOKED,
    "RESV_DEL_HOLD": JobState.RESV_DEL_HOLD,
}
# Flags that only add detail to a running job: the base state says it when Slurm
# gives one (a list), the flag when it is all Slurm printed (22.05's one word).
_JOB_DETAIL_FLAGS = {
    "CONFIGURING": JobState.CONFIGURING,
    "RESIZING": JobState.RESIZING,
    "SIGNALING": JobState.SIGNALING,
}
# Flags that appear only beside a base state in --json lists and change nothing
# for the owner (LAUNCH_FAILED comes with the requeue that follows it).
_JOB_QUIET_FLAGS = frozenset(
    {"LAUNCH_FAILED", "UPDATE_DB", "POWER_UP_NODE", "RECONFIG_FAIL", "EXPEDITING"}
)
_JOB_KNOWN = set(_JOB_BASE) | set(_JOB_FLAGS_FIRST) | set(_JOB_DETAIL_FLAGS) | _JOB_QUIET_FLAGS

# Slurm's base node states (COMPLETING was one before it became a flag). ERROR is an
# older base state: the node cannot be used.
_NODE_BASE = {
    "IDLE": NodeState.IDLE,
    "MIXED": NodeState.MIXED,
    "ALLOCATED": NodeState.ALLOCATED,
    "COMPLETING": NodeState.COMPLETING,
    "DOWN": NodeState.DOWN,
    "ERROR": NodeState.DOWN,
    "FUTURE": NodeState.FUTURE,
    "UNKNOWN": NodeState.UNKNOWN,
}
_BUSY = frozenset({"ALLOCATED", "MIXED", "COMPLETING"})
# Flags that decide the state whatever the base says (except DOWN, see node_state),
# most telling first.
# (A node that is restarting or powering up does not answer meanwhile: that it is
# starting is the more telling.)
_NODE_FLAGS_FIRST = {
    "INVALID_REG": NodeState.INVALID,
    "REBOOT_ISSUED": NodeState.REBOOTING,
    "POWERING_UP": NodeState.POWERING_UP,
    "POWER_UP": NodeState.POWERING_UP,
    "POWERING_DOWN": NodeState.POWERING_DOWN,
    "POWERED_DOWN": NodeState.POWERED_DOWN,
    "POWER_DOWN": NodeState.POWERING_DOWN,
    "POWER_DRAIN": NodeState.POWERING_DOWN,
    "NOT_RESPONDING": NodeState.NOT_RESPONDING,
    "MAINTENANCE": NodeState.MAINTENANCE,
    "REBOOT_REQUESTED": NodeState.REBOOT_PENDING,
}
# Flags that matter only on a node with no work of its own: a MIXED node in a
# reservation still runs the jobs it has.
_NODE_FLAGS_WHEN_FREE = {
    "RESERVED": NodeState.RESERVED,
    "PLANNED": NodeState.PLANNED,
    "BLOCKED": NodeState.BLOCKED,
    "DYNAMIC_FUTURE": NodeState.FUTURE,
}
# Flags that change nothing for a person: how the node is provisioned, or a
# transient request the base state already reflects.
_NODE_QUIET_FLAGS = frozenset(
    {"CLOUD", "DYNAMIC_NORM", "RESUME", "PERFCTRS", "EXTERNAL", "UNDRAIN", "REBOOT_CANCEL"}
)
_NODE_KNOWN = (
    set(_NODE_BASE)
    | set(_NODE_FLAGS_FIRST)
    | set(_NODE_FLAGS_WHEN_FREE)
    | _NODE_QUIET_FLAGS
    | {"DRAIN", "FAIL"}
)

_PARTITION = {
    "UP": PartitionState.UP,
    "DOWN": PartitionState.DOWN,
    "DRAIN": PartitionState.DRAIN,
    "INACTIVE": PartitionState.INACTIVE,
}

# Words already logged once as new beside a state we know (the watcher reads the
# cluster every few seconds; one line per new word is enough).
_REPORTED: set[str] = set()


def _report_new(words: set[str], known: set[str] | frozenset[str], what: str) -> None:
    for word in sorted(words - known - _REPORTED):
        _REPORTED.add(word)
        log.warning("unrecognised Slurm %s flag %r (ignored)", what, word)


def node_state(words: list[str]) -> NodeState:
    """Slurm reports a base state plus flags (``IDLE`` + ``DRAIN``); flags that change
    what a user can expect from the node win over the base state."""
    upper = [word.upper() for word in words]
    present = set(upper)
    base = next((word for word in upper if word in _NODE_BASE), None)
    busy = base in _BUSY
    if "DRAIN" in present:
        return NodeState.DRAINING if busy else NodeState.DRAINED
    if "FAIL" in present:
        return NodeState.FAILING
    if base == "DOWN":
        return NodeState.DOWN  # not responding, powered down...: down says it all
    for flag, state in _NODE_FLAGS_FIRST.items():
        if flag in present:
            return state
    if base in (None, "IDLE"):
        for flag, state in _NODE_FLAGS_WHEN_FREE.items():
            if flag in present:
                return state
    if base is None:
        log.warning("unrecognised Slurm node state %r", words)
        return NodeState.UNKNOWN
    _report_new(present, _NODE_KNOWN, "node")
    return _NODE_BASE[base]


def partition_state(word: str) -> PartitionState:
    state = _PARTITION.get(word.upper())
    if state is None:
        log.warning("unrecognised Slurm partition state %r", word)
        return PartitionState.UNKNOWN
    return state


def job_state(words: list[str]) -> JobState:
    """One job state from Slurm's word (22.05) or base-and-flags list (23.02+)."""
    upper = [word.upper() for word in words]
    present = set(upper)
    for flag, state in _JOB_FLAGS_FIRST.items():
        if flag in present:
            return state
    base = next((_JOB_BASE[word] for word in upper if word in _JOB_BASE), None)
    if base is not None:
        _report_new(present, _JOB_KNOWN, "job")
        return base
    for flag, state in _JOB_DETAIL_FLAGS.items():
        if flag in present:
            return state
    log.warning("unrecognised Slurm job state %r", words)
    return JobState.UNKNOWN
