"""sacct lines captured from the demo cluster (Slurm 22.05) into JobUsage."""

from __future__ import annotations

from pathlib import Path

import pytest

from managers.scheduler import JobState
from managers.scheduler.slurm.parse_history import HISTORY_FIELDS, clock_seconds, history, size_kb

DATA = Path(__file__).resolve().parent.parent / "data" / "slurm-22.05"


def captured(name: str) -> dict[str, object]:
    return {usage.job.job_id: usage for usage in history((DATA / name).read_text())}


def test_finished_jobs_with_their_steps_folded_in() -> None:
    jobs = captured("sacct-history.txt")
    assert list(jobs) == ["1", "2", "3", "4", "5", "8", "9", "11", "10_1", "10_2"]
    burn = jobs["1"]
    assert burn.job.name == "cap-burn" and burn.job.state is JobState.COMPLETED
    assert burn.elapsed_seconds == 5 and burn.job.time_limit_minutes == 60
    assert burn.cpu_seconds == pytest.approx(4.986)
    assert burn.memory_requested_kb == 2000 * 1024
    assert burn.memory_peak_kb is None  # five seconds: the sampler never ran
    failed = jobs["2"]
    assert (failed.job.state, failed.job.exit_code) == (JobState.FAILED, 3)
    # MaxRSS lives on the batch step only; the allocation line has none.
    sleeper = jobs["3"]
    assert sleeper.memory_peak_kb == 163292 and sleeper.job.cpus == 2
    assert sleeper.memory_requested_kb == 1000 * 1024
    # The allocation's TotalCPU is already the sum of its steps (0.009 + 5.921 + ...).
    assert jobs["4"].cpu_seconds == pytest.approx(5.931)
    cancelled = jobs["5"]
    assert cancelled.job.state is JobState.CANCELLED and cancelled.job.reason == "by 0"
    assert cancelled.job.started_at is None and cancelled.job.nodes == ""
    # ReqMem is the whole job's: 500 MB per CPU x 2 CPUs, 300 MB per node x 2 nodes.
    assert jobs["8"].memory_requested_kb == 1000 * 1024
    assert jobs["9"].memory_requested_kb == 1024 * 1024
    assert jobs["11"].memory_requested_kb == 600 * 1024 and jobs["11"].job.node_count == 2
    assert jobs["10_2"].job.name == "cap-arr"


def test_running_and_waiting_jobs() -> None:
    jobs = captured("sacct-history-active.txt")
    running, waiting = jobs["16"], jobs["17"]
    assert running.job.state is JobState.RUNNING and running.job.ended_at is None
    assert waiting.job.state is JobState.PENDING and waiting.job.started_at is None
    assert waiting.elapsed_seconds == 0


def test_a_name_with_a_bar_keeps_the_other_fields_in_place() -> None:
    line = (
        "7|a|b|alice|chem|debug|COMPLETED|0:0|2026-11-25T16:34:49|"
        + "|".join(
            [
                "2026-11-25T16:34:49",
                "2026-11-25T16:34:54",
                "5",
                "60",
                "1",
                "00:01.5",
                "1G",
                "",
                "",
                "1",
            ]
        )
        + "|node1"
    )
    assert len(line.split("|")) == len(HISTORY_FIELDS) + 1
    (usage,) = history(line)
    assert usage.job.name == "a|b" and usage.job.user == "alice"
    assert usage.cpu_seconds == 1.5 and usage.job.nodes == "node1"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:04.986", 4.986),
        ("12:03.5", 723.5),
        ("01:02:03", 3723),
        ("1-02:03:04", 93784),
        ("00:00:00", 0),
        ("", None),
        ("soon", None),
    ],
)
def test_cpu_times(text: str, seconds: float | None) -> None:
    assert clock_seconds(text) == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize(
    ("text", "cpus", "nodes", "kb"),
    [
        ("163292K", 1, 1, 163292),
        ("1000M", 1, 1, 1024000),
        ("1G", 1, 1, 1048576),
        ("1.5G", 1, 1, 1572864),
        ("2048", 1, 1, 2),  # a bare number is bytes
        ("1000Mn", 2, 3, 3 * 1024000),  # before 22.05: per node
        ("500Mc", 4, 1, 4 * 512000),  # before 22.05: per CPU
        ("", 1, 1, None),
        ("lots", 1, 1, None),
    ],
)
def test_sizes(text: str, cpus: int, nodes: int, kb: int | None) -> None:
    assert size_kb(text, cpus, nodes) == kb
