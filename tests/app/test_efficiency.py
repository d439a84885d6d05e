"""Efficiency in plain words: the numbers, and hints only when a request was clearly
far too large (or too small)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.web.words import seconds_words
from managers.scheduler import Job, JobState, JobUsage
from wrappers.jobs.efficiency import cpu_percent, efficiency, hints, size_words

STARTED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GB = 1024 * 1024


def usage(
    *,
    state: JobState = JobState.COMPLETED,
    limit: int | None = 60,
    elapsed: int = 600,
    cpus: int = 1,
    cpu: float | None = None,
    asked_kb: int | None = 1 * GB,
    peak_kb: int | None = None,
) -> JobUsage:
    return JobUsage(
        job=Job(
            job_id="1",
            name="x",
            user="alice",
            state=state,
            cpus=cpus,
            time_limit_minutes=limit,
            started_at=STARTED,
        ),
        elapsed_seconds=elapsed,
        cpu_seconds=elapsed * cpus if cpu is None else cpu,
        memory_requested_kb=asked_kb,
        memory_peak_kb=peak_kb,
    )


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (59.6, "1 minute"),
        (720, "12 minutes"),
        (3600, "1 hour"),
        (3900, "1 hour 5 minutes"),
        (8 * 3600, "8 hours"),
        (86400 + 3 * 3600 + 120, "1 day 3 hours"),
    ],
)
def test_seconds_words(seconds: float, words: str) -> None:
    assert seconds_words(seconds) == words


@pytest.mark.parametrize(
    ("kb", "words"),
    [
        (800, "800 KB"),
        (120 * 1024, "120 MB"),
        (GB, "1 GB"),
        (1536 * 1024, "1.5 GB"),
        (16 * GB, "16 GB"),
    ],
)
def test_size_words(kb: int, words: str) -> None:
    assert size_words(kb) == words


def test_the_issue_example_gets_the_time_hint() -> None:
    (hint,) = hints(usage(limit=8 * 60, elapsed=12 * 60))
    assert hint == (
        "You asked for 8 hours and used 12 minutes: asking for about 30 minutes next "
        "time lets it start sooner."
    )


def test_an_hour_used_for_seconds_suggests_a_few_minutes() -> None:
    (hint,) = hints(usage(limit=60, elapsed=31))
    assert "You asked for 1 hour and used 31 seconds" in hint
    assert "about 5 minutes" in hint


@pytest.mark.parametrize(
    ("limit", "elapsed"),
    [
        (5, 1),  # a small request: nothing worth saying
        (20, 30),  # under a quarter used, but only minutes to spare
        (60, 20 * 60),  # a third used: fine
        (None, 5),  # no limit to compare with
    ],
)
def test_no_time_hint_when_the_request_was_reasonable(limit: int | None, elapsed: int) -> None:
    assert hints(usage(limit=limit, elapsed=elapsed)) == []


@pytest.mark.parametrize("state", [JobState.FAILED, JobState.CANCELLED, JobState.NODE_FAIL])
def test_no_hint_for_jobs_that_stopped_early(state: JobState) -> None:
    assert hints(usage(state=state, limit=8 * 60, elapsed=5, cpus=8, cpu=5)) == []


def test_cpus_held_idle() -> None:
    (hint,) = hints(usage(limit=10, elapsed=600, cpus=8, cpu=610))
    assert hint.startswith("It kept about 1 of the 8 CPUs it asked for busy")
    assert "asking for 1 CPU next time" in hint
    assert hints(usage(limit=10, elapsed=600, cpus=8, cpu=600 * 6)) == []
    assert hints(usage(limit=10, elapsed=20, cpus=8, cpu=1)) == []  # too short to judge


def test_memory_far_too_large() -> None:
    (hint,) = hints(usage(limit=10, asked_kb=16 * GB, peak_kb=120 * 1024))
    assert hint == (
        "It used at most 120 MB of the 16 GB of memory set aside for it: asking for "
        "about 256 MB next time lets it start sooner."
    )
    # The default whole node of this demo cluster (2000 MB) for a 160 MB job: too
    # little to remark on; nor is a peak that was never measured.
    assert hints(usage(limit=10, asked_kb=2000 * 1024, peak_kb=160 * 1024)) == []
    assert hints(usage(limit=10, asked_kb=16 * GB, peak_kb=None)) == []


def test_running_out_is_the_other_way_round() -> None:
    (hint,) = hints(usage(state=JobState.TIMEOUT, limit=60, elapsed=3600))
    assert "ran out of its 1 hour" in hint and "about 2 hours" in hint
    (hint,) = hints(usage(state=JobState.OUT_OF_MEMORY, asked_kb=GB))
    assert "needed more memory than the 1 GB" in hint


def test_the_numbers() -> None:
    shown = efficiency(usage(limit=60, elapsed=1800, cpus=4, cpu=1800 * 2, peak_kb=300 * 1024))
    assert (shown.ran_for, shown.asked_for, shown.time_percent) == ("30 minutes", "1 hour", 50)
    assert shown.cpu_percent == 50
    assert (shown.peak_memory, shown.asked_memory) == ("300 MB", "1 GB")
    assert cpu_percent(usage(state=JobState.RUNNING, elapsed=10)) is None
    assert cpu_percent(usage(elapsed=0)) is None
    assert efficiency(usage(limit=None)).asked_for == "no limit"
