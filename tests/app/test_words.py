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


@pytest.mark.parametrize("state", [*JobState, *NodeState])
def test_each_state_has_plain_words_of_its_own(state: JobState | NodeState) -> None:
    """Words a first-year student reads: no Slurm code (capitals, underscores), and
    "unknown" only where the portal really does not know."""
    words = JOB_WORDS[state] if isinstance(state, JobState) else NODE_WORDS[state]
    assert words.strip() and words == words.lower() and "_" not in words
    assert (words == "unknown") == (state.name == "UNKNOWN")


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


def test_the_clock_of_a_job_in_plain_words() -> None:
    from datetime import UTC, datetime, timedelta

    from app.web.words import clock_words
    from managers.scheduler.models import Job

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    waiting = Job(
        job_id="1",
        name="a",
        user="alice",
        state=JobState.PENDING,
        submitted_at=now - timedelta(minutes=3),
    )
    assert clock_words(waiting, now) == "waiting 3 minutes"
    running = waiting.model_copy(
        update={
            "state": JobState.RUNNING,
            "started_at": now - timedelta(minutes=12),
            "time_limit_minutes": 60,
        }
    )
    assert clock_words(running, now) == "running 12 minutes, 48 minutes left"
    over = running.model_copy(update={"time_limit_minutes": 10})
    assert clock_words(over, now) == "running 12 minutes, 0 seconds left"
    done = running.model_copy(
        update={"state": JobState.COMPLETED, "ended_at": now - timedelta(minutes=2)}
    )
    assert clock_words(done, now) == "ran 10 minutes"


def test_a_notebook_sessions_job_says_what_it_is() -> None:
    from app.notify.words import ending_words
    from app.tools import discover
    from app.web.templating import job_names_of
    from managers.notebooks import job_name
    from managers.scheduler import Job, JobState

    names = job_names_of(discover())  # the notebooks tool claims its sessions' jobs
    name = job_name("0123456789abcdef")
    assert names.words(name) == "Jupyter notebook session"
    assert names.words("my-analysis") == "my-analysis"
    ended = Job(job_id="7", name=name, user="alice", state=JobState.TIMEOUT)
    title, sentence = ending_words("7", name, [ended], names)
    assert "Jupyter notebook session" in title and "0123456789abcdef" not in sentence
    named = Job(job_id="8", name="MyRun", user="alice", state=JobState.COMPLETED)
    assert ending_words("8", "MyRun", [named])[0] == "Job 8 'MyRun' finished"


def test_only_a_notebook_jobs_name_leads_to_a_session() -> None:
    from app.tools import discover
    from app.web.templating import job_names_of

    names = job_names_of(discover())
    claim = names.claim("onestop-notebook-0123456789abcdef")
    assert claim is not None and claim.url == "/notebooks/sessions/0123456789abcdef"
    for other in ("onestop-notebook-../../etc", "onestop-notebook-0123", "my-job", ""):
        assert names.claim(other) is None
