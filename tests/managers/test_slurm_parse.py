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
