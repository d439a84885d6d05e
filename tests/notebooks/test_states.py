"""The session state machine on readings captured from the demo cluster (Slurm 22.05):
a held job, a running one, one that hit its time limit, one cancelled, and what
accounting says about each kind of ending."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from managers.scheduler import ClusterSnapshot, Job, JobState
from managers.scheduler.slurm import parse
from wrappers.notebooks.models import NotebookSession
from wrappers.notebooks.monitor import ENDED_WORDS, decide, node_address, server_address
from wrappers.notebooks.verbs import queued_job, session_view

DATA = Path(__file__).resolve().parents[1] / "data" / "slurm-22.05"


def captured(squeue: str) -> ClusterSnapshot:
    return parse.snapshot(
        json.loads((DATA / "sinfo-idle.json").read_text()),
        json.loads((DATA / squeue).read_text()),
        (DATA / "scontrol-partitions.txt").read_text(),
    )


def row(session_id: str, **fields: object) -> NotebookSession:
    values: dict[str, object] = {
        "id": session_id,
        "owner": "alice",
        "secret": "s" * 43,
        "token": session_id,
        "created_at": datetime.now(UTC) - timedelta(minutes=1),
    }
    values.update(fields)
    return NotebookSession(**values)


RUNNING_ID, HELD_ID = "00000000000000bb", "00000000000000cc"


def test_a_held_job_is_queued_with_its_reason() -> None:
    snapshot = captured("squeue-notebooks-running.json")
    session = row(HELD_ID)  # its number not known yet: found by name and owner
    job = queued_job(session, snapshot)
    assert job is not None and job.state is JobState.PENDING
    assert decide(session, job, verified=False) == {"state": "queued", "host": None, "port": None}
    view = session_view(row(HELD_ID, job_id=job.job_id, state="queued"), snapshot)
    assert view.queue_reason == "JobHeldUser" and view.minutes_left is None


def test_someone_elses_job_of_the_same_name_is_not_hers() -> None:
    snapshot = captured("squeue-notebooks-running.json")
    assert queued_job(row(HELD_ID, owner="bob"), snapshot) is None


def test_a_running_job_is_starting_until_its_server_answered() -> None:
    snapshot = captured("squeue-notebooks-running.json")
    session = row(RUNNING_ID)
    job = queued_job(session, snapshot)
    assert job is not None and job.state is JobState.RUNNING and job.started_at is not None
    changes = decide(session, job, verified=False)
    assert changes["state"] == "starting"
    assert changes["ends_at"] == job.started_at + timedelta(minutes=1)  # --time=1
    assert node_address(job, snapshot) == "127.0.0.1"
    # Ready only once this portal process had an answer from the stored address.
    answered = row(RUNNING_ID, host="127.0.0.1", port=40000, state="ready")
    assert decide(answered, job, verified=True)["state"] == "ready"
    assert decide(answered, job, verified=False)["state"] == "starting"


def test_time_left_and_the_warning() -> None:
    now = datetime.now(UTC)
    session = row(RUNNING_ID, state="ready", ends_at=now + timedelta(minutes=25, seconds=30))
    view = session_view(session, None, now)
    assert view.minutes_left == 25 and not view.ending_soon
    view = session_view(row(RUNNING_ID, state="ready", ends_at=now + timedelta(minutes=9)), None)
    assert view.minutes_left is not None and view.minutes_left < 10 and view.ending_soon


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (JobState.TIMEOUT, "time limit"),
        (JobState.OUT_OF_MEMORY, "out of memory"),
        (JobState.CANCELLED, "cancelled"),
        (JobState.NODE_FAIL, "node failure"),
    ],
)
def test_why_a_session_ended(state: JobState, words: str) -> None:
    job = Job(job_id="7", name="onestop-notebook-x", user="alice", state=state)
    changes = decide(row(RUNNING_ID, job_id="7", host="127.0.0.1", port=4000), job, True)
    assert changes == {"state": "ended", "ended_reason": words, "host": None, "port": None}
    assert ENDED_WORDS[state] == words


def test_a_timed_out_job_from_the_queue_ends_with_time_limit() -> None:
    snapshot = captured("squeue-notebooks-ended.json")
    job = queued_job(row(RUNNING_ID, job_id="22"), snapshot)
    assert job is not None and job.state is JobState.TIMEOUT
    assert decide(row(RUNNING_ID, job_id="22"), job, True)["ended_reason"] == "time limit"
    cancelled = queued_job(row("00000000000000aa", job_id="21"), snapshot)
    assert cancelled is not None and decide(row("00000000000000aa"), cancelled, True)[
        "ended_reason"
    ] == ("cancelled")


def test_an_ending_job_waits_for_its_final_state() -> None:
    job = Job(job_id="7", name="n", user="alice", state=JobState.COMPLETING)
    assert decide(row(RUNNING_ID, state="ready"), job, True) == {}


@pytest.mark.parametrize(
    ("state", "decided"),
    [
        # Every demo job passes through CONFIGURING while its prolog runs: starting,
        # not "unknown".
        (JobState.CONFIGURING, "starting"),
        (JobState.REQUEUE_HOLD, "queued"),
        (JobState.STOPPED, "queued"),
        (JobState.STAGE_OUT, None),  # ending: wait for the final state
        (JobState.REVOKED, "ended"),
        (JobState.UNKNOWN, "unknown"),
    ],
)
def test_every_job_state_has_a_session_state(state: JobState, decided: str | None) -> None:
    job = Job(job_id="7", name="n", user="alice", state=state)
    assert decide(row(RUNNING_ID, state="starting"), job, False).get("state") == decided


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"host": "127.0.0.1", "port": 43145}', ("127.0.0.1", 43145)),
        (b'{"host": "127.0.0.1", "port": "43145"}', None),
        (b'{"host": "127.0.0.1", "port": true}', None),
        (b'["127.0.0.1", 43145]', None),
        (b'{"host": "127.0.0.1", "po', None),
    ],
)
def test_server_json_is_read_strictly(text: bytes, expected: object) -> None:
    assert server_address(text) == expected


def test_accounting_says_why_a_session_ended_after_it_left_the_queue() -> None:
    """What the monitor does once a job is gone from the queue (MinJobAge passed, or
    the portal was down when it ended): accounting's record decides."""
    lines = (DATA / "sacct-notebooks-ended.txt").read_text().splitlines()
    cancelled, timed_out = (parse.accounting_job(line) for line in lines)
    assert cancelled is not None and timed_out is not None
    assert decide(row("00000000000000aa", job_id="21"), cancelled, True)["ended_reason"] == (
        "cancelled"
    )
    assert decide(row(RUNNING_ID, job_id="22"), timed_out, True)["ended_reason"] == "time limit"


def test_her_tabs_show_the_warning_and_nobody_elses_render_it() -> None:
    from app.realtime.fragments import render_event
    from app.security.sessions import Identity
    from tests.helpers import portal_renderers, portal_templates

    now = datetime.now(UTC)
    ending = row(
        RUNNING_ID,
        state="ready",
        label="thesis",
        host="127.0.0.1",
        port=40000,
        ends_at=now + timedelta(minutes=5),
    )
    event = {
        "kind": "notebooks",
        "user": "alice",
        "sessions": [session_view(ending, None, now).model_dump(mode="json")],
    }
    html = render_event(
        portal_templates(),
        Identity(1, "alice", "Alice", ""),
        event,
        "tok",
        renderers=portal_renderers(),
    )
    assert html is not None
    assert 'id="notebook-sessions" hx-swap-oob="true"' in html
    assert f'id="notebook-session-{RUNNING_ID}" hx-swap-oob="true"' in html
    assert 'id="notebooks-card" hx-swap-oob="true"' in html
    assert "save your work now" in html and 'role="alert"' in html
    assert f'href="/notebooks/sessions/{RUNNING_ID}/connect"' in html and 'value="tok"' in html
    assert (
        render_event(
            portal_templates(), Identity(2, "bob", "Bob", ""), event, renderers=portal_renderers()
        )
        is None
    )
