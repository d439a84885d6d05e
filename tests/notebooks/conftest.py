"""Notebook sessions against the real parts: a verb gate with Casbin on a fresh
database, agents started by the real launcher, real Slurm, the real Jupyter
environment and the proxy's real probe.

Starting JupyterLab takes a while on two cores, so the fixtures that start one are
module-scoped: the tests of a module share the session.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.logs import get_logger
from app.readings import Readings
from app.security.sessions import Identity
from app.verbs import VerbGate
from managers.agent.client import AgentClient
from tests.agents.conftest import stop_agents
from tests.helpers import local_gate
from tests.helpers import squeue as squeue  # the notebook tests import it from here
from wrappers.notebooks.monitor import NotebookMonitor
from wrappers.notebooks.store import Notebooks

JUPYTER_ENV = "/opt/onestop/jupyter"


class Recorder:
    """Stands where the event bus would be: what the monitor told whom."""

    def __init__(self) -> None:
        self.events: list[tuple[str | None, dict[str, Any]]] = []

    async def __call__(self, audience: str | None, payload: dict[str, Any]) -> None:
        self.events.append((audience, payload))


class NotebookHarness:
    def __init__(
        self,
        gate: VerbGate,
        notebooks: Notebooks,
        monitor: NotebookMonitor,
        recorder: Recorder,
    ) -> None:
        self.gate = gate
        self.notebooks = notebooks
        self.monitor = monitor
        self.recorder = recorder
        self.services = gate.services
        self.readings = monitor.readings

    def person(self, unix_name: str) -> Identity:
        return Identity(0, unix_name, unix_name.title(), "", int(time.time()))

    async def settle(self) -> None:
        """One reading of the cluster and one monitor round on it."""
        await self.services.watcher.refresh()
        await self.monitor.round()

    async def wait_for(self, session_id: str, *states: str, seconds: float = 120) -> Any:
        """Rounds until the session is in one of ``states``; its row."""
        deadline = time.monotonic() + seconds
        while True:
            await self.settle()
            row = await self.notebooks.store.get(session_id)
            assert row is not None
            if row.state in states:
                return row
            if time.monotonic() > deadline:
                log = Path(f"/home/{row.owner}/.onestop/notebooks/{session_id}/output.log")
                tail = log.read_text()[-2000:] if log.exists() else "(no output.log)"
                raise AssertionError(f"session {session_id} stayed {row.state}:\n{tail}")
            await asyncio.sleep(0.5)


async def probe(host: str, port: int, session_id: str, secret: str) -> bool:
    """The proxy's own probe (imported when first needed)."""
    from wrappers.notebooks.proxy import probe as real

    return bool(await real(host, port, session_id, secret))


@pytest.fixture(scope="module")
def module_runtime(cluster: None) -> Iterator[Path]:
    """Agents of this module's own, so they run the code under test."""
    base = Path("/run/onestop-test") / uuid.uuid4().hex[:8]
    folder = base / "agents"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONESTOP_CONFIG", "/nonexistent.toml")
        patch.setenv("ONESTOP_AGENTS__RUNTIME_DIR", str(folder))
        patch.setenv("ONESTOP_AGENTS__LOG_DIR", str(base / "logs"))
        yield folder
    stop_agents(folder)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
async def notebook_harness(
    module_runtime: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[NotebookHarness]:
    assert os.access(f"{JUPYTER_ENV}/bin/jupyter-lab", os.X_OK), "run scripts/setup.sh first"
    url = f"sqlite:///{tmp_path_factory.mktemp('notebooks')}/onestop.db"
    recorder = Recorder()
    agents = AgentClient(str(module_runtime))
    built = await local_gate(url, agents, recorder)
    gate, services, policy = built.gate, built.services, built.services.policy
    notebooks = services.own(Notebooks)
    for name, projects, admin in [("alice", ["chem"], False), ("bob", ["chem"], False)]:
        await policy.sync_derived_roles(name, projects=projects, is_admin=admin)
    monitor = NotebookMonitor(
        notebooks, gate, Readings(services.watcher), recorder, probe, get_logger("tests.notebooks")
    )
    harness = NotebookHarness(gate, notebooks, monitor, recorder)
    try:
        yield harness
    finally:
        for person in ("alice", "bob"):
            for row in await notebooks.store.of_owner(person):
                end_session(row.id, person)
        agents.close()
        await built.close()


def end_session(session_id: str, owner: str = "alice") -> None:
    """Whatever a test left running of a session (found by its job name), cancelled,
    and its folder removed."""
    subprocess.run(
        ["scancel", f"--user={owner}", f"--name=onestop-notebook-{session_id}"], check=False
    )
    shutil.rmtree(f"/home/{owner}/.onestop/notebooks/{session_id}", ignore_errors=True)
