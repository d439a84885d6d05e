"""Agents started by the real launcher, in a runtime folder of the test's own."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from managers.agent.client import AgentClient


def stop_agents(runtime: Path) -> None:
    for sock in runtime.glob("*.sock"):
        for pid in agent_pids(sock.stem, runtime):
            os.kill(pid, signal.SIGKILL)


def agent_pids(user: str, runtime: Path) -> list[int]:
    """Agents are found by who they run as and the socket they hold open."""
    found = subprocess.run(
        ["fuser", str(runtime / f"{user}.sock")], capture_output=True, text=True, check=False
    ).stdout.split()
    return [int(pid) for pid in found if pid.isdigit()]


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch, cluster: None) -> Iterator[Path]:
    """A runtime folder like production's: under /run, traversable by everyone, so
    that only the socket's own mode and the agent's SO_PEERCRED check keep people out."""
    base = Path("/run/onestop-test") / uuid.uuid4().hex[:8]
    folder = base / "agents"
    monkeypatch.setenv("ONESTOP_CONFIG", "/nonexistent.toml")
    monkeypatch.setenv("ONESTOP_AGENTS__RUNTIME_DIR", str(folder))
    monkeypatch.setenv("ONESTOP_AGENTS__LOG_DIR", str(base / "logs"))
    yield folder
    stop_agents(folder)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def agents(runtime: Path) -> Iterator[AgentClient]:
    client = AgentClient(str(runtime))
    yield client
    client.close()


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]
