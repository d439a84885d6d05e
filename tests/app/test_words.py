"""Slurm's codes in words a first-year student understands."""

from __future__ import annotations

import pytest

from app.web.words import JOB_WORDS, NODE_WORDS, duration_words, memory_words, reason_words
from managers.scheduler import JobState, NodeState


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("Resources", "waiting for free nodes"),
        ("Priority", "other jobs are ahead of yours"),
        ("QOSMaxJobsPerUserLimit", "you have reached your running-job limit"),
        ("JobHeldUser", "on hold (you held it)"),
        ("None", ""),
        ("SomethingNew", "SomethingNew"),
    ],
)
def test_reasons(code: str, words: str) -> None:
    assert reason_words(code) == words


def test_every_state_has_words() -> None:
    assert set(JOB_WORDS) == set(JobState)
    assert set(NODE_WORDS) == set(NodeState)


@pytest.mark.parametrize(
    ("minutes", "words"),
    [
        (None, "no limit"),
        (0, "0 minutes"),
        (1, "1 minute"),
        (61, "1 hour 1 minute"),
        (10080, "7 days"),
    ],
)
def test_durations(minutes: int | None, words: str) -> None:
    assert duration_words(minutes) == words


def test_memory() -> None:
    assert memory_words(500) == "500 MB" and memory_words(2048) == "2.0 GB"
