"""The Slurm parser on output captured from the real demo cluster (Slurm 22.05),
and on the newer shapes (24.11+) that the same fields take."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from managers.scheduler import JobState, NodeState, PartitionState
from managers.scheduler.slurm import parse
from managers.scheduler.states import job_state, node_state

DATA = Path(__file__).resolve().parent.parent / "data" / "slurm-22.05"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def test_nodes_and_partitions_from_captured_output() -> None:
    snapshot = parse.snapshot(
        load("sinfo-idle.json"),
        load("squeue-running.json"),
        (DATA / "scontrol-partitions.txt").read_text(),
    )
    assert [n.name for n in snapshot.nodes] == ["node1", "node2"]
    assert all(n.cpus == 2 and n.memory_mb == 2000 for n in snapshot.nodes)
    assert [n.address for n in snapshot.nodes] == ["127.0.0.1", "127.0.0.1"]  # NodeAddr
    debug, long = snapshot.partitions
    assert (debug.name, debug.is_default, debug.max_time_minutes) == ("debug", True, 60)
    assert (long.name, long.is_default, long.max_time_minutes) == ("long", False, 7 * 24 * 60)
    assert debug.nodes == ["node1", "node2"] and debug.state is PartitionState.UP
    (job,) = snapshot.jobs
    assert (job.user, job.account, job.state, job.nodes) == (
        "alice",
        "chem",
        JobState.RUNNING,
        "node1",
    )
    assert job.time_limit_minutes == 60 and job.started_at is not None


def test_a_drained_node_is_in_maintenance() -> None:
    nodes = {n.name: n for n in parse.nodes(load("sinfo-drained.json"))}
    assert nodes["node2"].state is NodeState.DRAINED
    assert nodes["node2"].reason == "maintenance"
    assert nodes["node1"].state is NodeState.MIXED


@pytest.mark.parametrize(
    ("words", "state"),
    [
        (["IDLE"], NodeState.IDLE),
        (["idle", "DRAIN"], NodeState.DRAINED),
        (["MIXED", "DRAIN"], NodeState.DRAINING),
        (["ALLOCATED"], NodeState.ALLOCATED),
        (["DOWN", "NOT_RESPONDING"], NodeState.DOWN),
        (["IDLE", "RESERVED"], NodeState.RESERVED),
        (["SOMETHING_NEW"], NodeState.UNKNOWN),
        ([], NodeState.UNKNOWN),
    ],
)
def test_node_state_table(words: list[str], state: NodeState) -> None:
    assert node_state(words) is state


@pytest.mark.parametrize(
    ("words", "state"),
    [
        (["PENDING"], JobState.PENDING),
        (["COMPLETED"], JobState.COMPLETED),
        (["OUT_OF_MEMORY"], JobState.OUT_OF_MEMORY),
        (["RUNNING", "CONFIGURING"], JobState.RUNNING),
        (["BRAND_NEW_STATE"], JobState.UNKNOWN),
    ],
)
def test_job_state_table_falls_back_to_unknown(words: list[str], state: JobState) -> None:
    assert job_state(words) is state


# Every word Slurm 22.05 to 26.05 prints for a job (job_state_string and the flags of
# job_state_string_complete / --json lists, src/common/slurm_protocol_defs.c).
SLURM_JOB_BASES = [
    "PENDING",
    "RUNNING",
    "SUSPENDED",
    "COMPLETED",
    "CANCELLED",
    "FAILED",
    "TIMEOUT",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "OUT_OF_MEMORY",
]
SLURM_JOB_FLAGS = [
    "COMPLETING",
    "STAGE_OUT",
    "CONFIGURING",
    "RESIZING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "SPECIAL_EXIT",
    "STOPPED",
    "REVOKED",
    "RESV_DEL_HOLD",
    "SIGNALING",
]
# Flags only ever printed beside a base state, in --json lists.
SLURM_JOB_QUIET_FLAGS = ["LAUNCH_FAILED", "UPDATE_DB", "POWER_UP_NODE", "RECONFIG_FAIL"]


@pytest.mark.parametrize("word", SLURM_JOB_BASES + SLURM_JOB_FLAGS)
def test_every_job_state_slurm_prints_alone_is_known(word: str) -> None:
    """22.05 prints one word, a flag when one is set: each has a state of its own."""
    state = job_state([word])
    assert state is not JobState.UNKNOWN and state.name == word


@pytest.mark.parametrize(
    ("words", "state"),
    [
        # 23.02+ lists: a flag that changes what the owner can expect wins...
        (["CANCELLED", "COMPLETING"], JobState.COMPLETING),
        (["COMPLETED", "STAGE_OUT"], JobState.STAGE_OUT),
        (["PENDING", "REQUEUE_HOLD"], JobState.REQUEUE_HOLD),
        (["PENDING", "REQUEUED"], JobState.REQUEUED),
        (["RUNNING", "STOPPED"], JobState.STOPPED),
        (["PENDING", "RESV_DEL_HOLD"], JobState.RESV_DEL_HOLD),
        # ...one that only adds detail to a running job does not...
        (["RUNNING", "SIGNALING"], JobState.RUNNING),
        (["RUNNING", "RESIZING"], JobState.RUNNING),
        (["PENDING", "CONFIGURING", "POWER_UP_NODE"], JobState.PENDING),
        # ...and the quiet ones never decide.
        (["FAILED", "LAUNCH_FAILED"], JobState.FAILED),
        (["COMPLETED", "UPDATE_DB"], JobState.COMPLETED),
        (["RUNNING", "A_FLAG_FROM_THE_FUTURE"], JobState.RUNNING),
        (["UPDATE_DB"], JobState.UNKNOWN),
    ],
)
def test_job_state_lists_of_newer_slurm(words: list[str], state: JobState) -> None:
    assert job_state(words) is state


@pytest.mark.parametrize("quiet", SLURM_JOB_QUIET_FLAGS)
def test_quiet_job_flags_are_not_logged_as_new(
    quiet: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="onestop.scheduler.states"):
        assert job_state(["RUNNING", quiet]) is JobState.RUNNING
    assert not caplog.records


def test_a_new_job_state_is_logged_and_unknown(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="onestop.scheduler.states"):
        assert job_state(["BRAND_NEW_STATE"]) is JobState.UNKNOWN
    assert "BRAND_NEW_STATE" in caplog.text


def test_waiting_active_and_final_split_the_job_states() -> None:
    """Every state is in exactly one of: waiting, running (active, not waiting), final;
    UNKNOWN alone is in none, so nothing is taken as over (or as running) on a guess."""
    for state in JobState:
        if state is JobState.UNKNOWN:
            assert not (state.is_waiting or state.is_active or state.is_final)
            continue
        assert state.is_active != state.is_final, state
        assert not state.is_waiting or state.is_active, state
    waiting = {state for state in JobState if state.is_waiting}
    assert {JobState.PENDING, JobState.REQUEUED, JobState.SUSPENDED} <= waiting
    assert JobState.REQUEUE_HOLD in waiting and JobState.RUNNING not in waiting
    active = {state for state in JobState if state.is_active and not state.is_waiting}
    assert {JobState.RUNNING, JobState.CONFIGURING, JobState.COMPLETING} <= active
    assert JobState.STAGE_OUT in active  # its results are still being copied out
    assert JobState.PREEMPTED.is_final and JobState.REVOKED.is_final


# Every node base state and flag Slurm 22.05 to 26.05 prints (node_states and
# node_state_flags in src/common/slurm_protocol_defs.c, sinfo(1)).
SLURM_NODE_BASES = ["IDLE", "MIXED", "ALLOCATED", "DOWN", "ERROR", "FUTURE"]
SLURM_NODE_FLAGS = [
    "BLOCKED",
    "CLOUD",
    "COMPLETING",
    "DRAIN",
    "DYNAMIC_FUTURE",
    "DYNAMIC_NORM",
    "EXTERNAL",
    "FAIL",
    "INVALID_REG",
    "MAINTENANCE",
    "NOT_RESPONDING",
    "PERFCTRS",
    "PLANNED",
    "POWER_DOWN",
    "POWER_DRAIN",
    "POWER_UP",
    "POWERED_DOWN",
    "POWERING_DOWN",
    "POWERING_UP",
    "REBOOT_ISSUED",
    "REBOOT_REQUESTED",
    "RESERVED",
    "RESUME",
]


@pytest.mark.parametrize("base", SLURM_NODE_BASES)
@pytest.mark.parametrize("flag", ["", *SLURM_NODE_FLAGS])
def test_every_node_state_and_flag_is_known(
    base: str, flag: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="onestop.scheduler.states"):
        state = node_state([base, flag] if flag else [base])
    assert state is not NodeState.UNKNOWN
    assert not caplog.records, caplog.text


@pytest.mark.parametrize(
    ("words", "state"),
    [
        (["IDLE", "CLOUD", "POWERED_DOWN"], NodeState.POWERED_DOWN),
        (["MIXED", "CLOUD", "NOT_RESPONDING", "POWERING_UP"], NodeState.POWERING_UP),
        (["IDLE", "POWER_DOWN"], NodeState.POWERING_DOWN),
        (["IDLE", "POWERING_DOWN"], NodeState.POWERING_DOWN),
        (["ALLOCATED", "REBOOT_REQUESTED"], NodeState.REBOOT_PENDING),
        (["DOWN", "REBOOT_ISSUED"], NodeState.DOWN),
        (["IDLE", "REBOOT_ISSUED", "NOT_RESPONDING"], NodeState.REBOOTING),
        (["IDLE", "MAINTENANCE"], NodeState.MAINTENANCE),
        (["IDLE", "NOT_RESPONDING"], NodeState.NOT_RESPONDING),
        (["IDLE", "INVALID_REG"], NodeState.INVALID),
        (["ALLOCATED", "FAIL"], NodeState.FAILING),
        (["IDLE", "FAIL"], NodeState.FAILING),
        (["IDLE", "PLANNED"], NodeState.PLANNED),
        (["MIXED", "PLANNED"], NodeState.MIXED),
        (["IDLE", "BLOCKED"], NodeState.BLOCKED),
        (["FUTURE", "DYNAMIC_FUTURE"], NodeState.FUTURE),
        (["IDLE", "DYNAMIC_NORM"], NodeState.IDLE),
        (["ALLOCATED", "CLOUD"], NodeState.ALLOCATED),
        (["ERROR"], NodeState.DOWN),
        (["idle", "POWERED_DOWN"], NodeState.POWERED_DOWN),  # 22.05: lower-case base
    ],
)
def test_node_flags_say_what_a_person_can_expect(words: list[str], state: NodeState) -> None:
    assert node_state(words) is state


def test_newer_slurm_shapes() -> None:
    squeue = {
        "jobs": [
            {
                "job_id": 7,
                "array_job_id": {"set": True, "infinite": False, "number": 0},
                "array_task_id": {"set": False, "infinite": False, "number": 0},
                "job_state": ["PENDING"],
                "name": "x",
                "user_name": "bob",
                "state_reason": "Resources",
                "time_limit": {"set": True, "infinite": True, "number": 0},
                "submit_time": {"set": True, "infinite": False, "number": 1795616536},
            }
        ]
    }
    (job,) = parse.jobs(squeue)
    assert job.job_id == "7" and job.state is JobState.PENDING
    assert job.time_limit_minutes is None and job.submitted_at is not None


def test_array_tasks_are_named_as_users_type_them() -> None:
    raw = {"job_id": 12, "array_job_id": 10, "array_task_id": 2, "job_state": "RUNNING"}
    assert parse.job_id(raw) == "10_2"
    pending = {
        "job_id": 10,
        "array_job_id": 10,
        "array_task_id": 4294967294,
        "array_task_string": "3-5",
        "job_state": "PENDING",
    }
    assert parse.job_id(pending) == "10_[3-5]"


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("UNLIMITED", None),
        ("30", 30),
        ("01:00:00", 60),
        ("7-00:00:00", 10080),
        ("2-12:30:00", 3630),
    ],
)
def test_time_limits(text: str, minutes: int | None) -> None:
    assert parse.minutes(text) == minutes
