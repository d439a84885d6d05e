"""The monitor following real sessions: Jupyter starts in a real job and answers the
proxy's probe before a session is ready; a scheduler outage makes it unknown, never
ended; a monitor that starts afresh (a restarted portal) finds it ready again; a
session that runs out of time ends with "time limit".

Two sessions are started once for the module: one of 30 minutes that the tests
share, and one of a single minute whose end the last test waits for (its minute runs
while the other tests do).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from app.logs import get_logger
from app.models import AuditEvent
from managers.scheduler.slurm import SlurmAdapter
from tests.notebooks.conftest import NotebookHarness, probe, squeue
from wrappers.notebooks.monitor import MONITOR, NotebookMonitor


@pytest.fixture(scope="module")
async def short_session(notebook_harness: NotebookHarness) -> AsyncIterator[Any]:
    h = notebook_harness
    view = await h.gate.call(
        h.person("alice"), "notebooks.start", label="one minute", time_minutes=1
    )
    yield view
    shutil.rmtree(f"/home/alice/.onestop/notebooks/{view.id}", ignore_errors=True)


@pytest.fixture(scope="module")
async def ready_session(
    notebook_harness: NotebookHarness, short_session: Any
) -> AsyncIterator[Any]:
    h = notebook_harness
    view = await h.gate.call(h.person("alice"), "notebooks.start", label="shared", time_minutes=30)
    yield await h.wait_for(view.id, "ready", seconds=120)
    subprocess.run(["scancel", str(view.job_id)], check=False)
    shutil.rmtree(f"/home/alice/.onestop/notebooks/{view.id}", ignore_errors=True)


async def test_a_session_is_ready_once_its_server_answers(
    notebook_harness: NotebookHarness, ready_session: Any
) -> None:
    h = notebook_harness
    row = ready_session
    assert row.host == "127.0.0.1" and row.port is not None and 1024 <= row.port <= 65535
    assert row.started_at is not None and row.ends_at is not None
    assert await probe(row.host, row.port, row.id, row.secret)
    assert not await probe(row.host, row.port, row.id, "not-the-secret" * 3)
    # Her tabs heard each step, and nobody else's did.
    told = [payload for who, payload in h.recorder.events if payload.get("kind") == "notebooks"]
    assert told and all(payload["user"] == "alice" for payload in told)
    states = [s["state"] for p in told for s in p["sessions"] if s["id"] == row.id]
    assert states[0] in ("queued", "starting") and states[-1] == "ready"
    for payload in told:
        assert row.secret not in str(payload)
        assert not {"host", "port", "secret"} & {key for s in payload["sessions"] for key in s}
    view = await h.gate.call(h.person("alice"), "notebooks.show", session_id=row.id)
    assert view.state == "ready" and view.node == "node1" and view.minutes_left in (28, 29)


async def test_a_scheduler_outage_makes_it_unknown_never_ended(
    notebook_harness: NotebookHarness, ready_session: Any
) -> None:
    h = notebook_harness
    watcher, services = h.services.watcher, h.services
    real = watcher.adapter
    broken = SlurmAdapter(bin_dir="/nonexistent")
    watcher.adapter, services.scheduler = broken, broken
    try:
        await h.settle()
        row = await h.notebooks.store.get(ready_session.id)
        assert row is not None and row.state == "unknown" and row.ended_reason == ""
        assert (row.host, row.port) == (ready_session.host, ready_session.port)
        await h.settle()
        assert squeue(str(row.job_id)).split()[1] == "RUNNING", "nothing was cancelled"
        listed = await h.gate.call(h.person("alice"), "notebooks.list")
        assert not listed.reachable
        (shown,) = [s for s in listed.sessions if s.id == row.id]
        assert shown.state == "unknown" and shown.connectable, "she can still connect"
    finally:
        watcher.adapter, services.scheduler = real, real
    row = await h.wait_for(ready_session.id, "ready", seconds=30)
    assert row.port == ready_session.port


async def test_a_new_monitor_probes_again_and_finds_it_ready(
    notebook_harness: NotebookHarness, ready_session: Any
) -> None:
    h = notebook_harness
    fresh = NotebookMonitor(h.notebooks, h.gate, h.readings, h.recorder, probe, get_logger("tests"))
    await h.services.watcher.refresh()
    await fresh.round()
    row = await h.notebooks.store.get(ready_session.id)
    assert row is not None and row.state == "ready" and ready_session.id in fresh._verified


async def test_a_server_json_pointing_elsewhere_is_not_believed(
    notebook_harness: NotebookHarness, ready_session: Any
) -> None:
    """She may edit her own server.json: another host is refused before any probe."""
    h = notebook_harness
    row = await h.notebooks.store.get(ready_session.id)
    assert row is not None
    await h.notebooks.store.update(row.id, host=None, port=None, state="starting")
    server = Path(f"/home/alice/.onestop/notebooks/{row.id}/server.json")
    original = server.read_text()
    try:
        server.write_text('{"host": "10.9.9.9", "port": 22}')
        fresh = NotebookMonitor(
            h.notebooks, h.gate, h.readings, h.recorder, probe, get_logger("tests")
        )
        await h.services.watcher.refresh()
        await fresh.round()
        again = await h.notebooks.store.get(row.id)
        assert again is not None and again.state == "starting" and again.host is None
    finally:
        server.write_text(original)
    await h.wait_for(row.id, "ready", seconds=30)


async def test_it_reads_her_server_file_as_its_service_for_her(
    notebook_harness: NotebookHarness, ready_session: Any
) -> None:
    """Through the gate: each read is audited with the monitor's principal as the actor
    and her as the one it was for; her agent read it, as her."""
    h = notebook_harness
    await h.gate.auditor.flush()
    async with h.services.database() as db:
        found = await db.exec(
            select(AuditEvent).where(AuditEvent.action == "files.read", AuditEvent.actor == MONITOR)
        )
        rows = found.all()
    server = f"file:/home/alice/.onestop/notebooks/{ready_session.id}/server.json"
    read = [row for row in rows if row.object == server and row.outcome == "ok"]
    assert read and all(json.loads(row.detail)["on_behalf_of"] == "alice" for row in read)


async def test_without_its_rule_it_cannot_read_the_server_file(
    notebook_harness: NotebookHarness, ready_session: Any
) -> None:
    """An administrator removed the monitor's rule for server.json: policy refuses its
    read (audited), so the session is not taken for ready, and nothing else is read."""
    h = notebook_harness
    rule = [MONITOR, "*", "file:/**/.onestop/notebooks/*/server.json", "read"]
    await h.notebooks.store.update(ready_session.id, host=None, port=None, state="starting")
    assert await h.services.policy.keep_rule(rule, False)
    try:
        fresh = NotebookMonitor(h.notebooks, h.gate, h.readings, h.recorder, probe, get_logger("t"))
        await h.services.watcher.refresh()
        await fresh.round()
        row = await h.notebooks.store.get(ready_session.id)
        assert row is not None and row.state == "starting" and row.host is None
        await h.gate.auditor.flush()
        async with h.services.database() as db:
            found = await db.exec(
                select(AuditEvent).where(
                    AuditEvent.action == "files.read",
                    AuditEvent.actor == MONITOR,
                    AuditEvent.outcome == "denied",
                )
            )
            assert found.all()
    finally:
        await h.services.policy.keep_rule(rule, True)
    await h.wait_for(ready_session.id, "ready", seconds=30)


async def test_a_session_that_runs_out_of_time_ends_with_time_limit(
    notebook_harness: NotebookHarness, short_session: Any
) -> None:
    h = notebook_harness
    row = await h.wait_for(short_session.id, "ended", seconds=150)
    assert row.ended_reason == "time limit" and row.host is None
    view = await h.gate.call(h.person("alice"), "notebooks.show", session_id=row.id)
    assert view.state == "ended" and view.ended_reason == "time limit"
    # It was ready for less than ten minutes, so she was warned (once) to save her work.
    assert h.services.notifier is not None
    assert await h.services.notifier.store.has("alice", f"notebook:{row.id}:ending")
