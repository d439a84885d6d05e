"""Folder watches wait in threads of their own: open folder tabs never hold up the
quick calls that every page makes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from managers.agent.client import AgentClient
from tests.agents.conftest import agent_pids
from tests.helpers import inotify_watches, wait_until

HOME = Path("/home/alice")


def test_quick_calls_pass_while_every_thread_could_be_waiting(runtime: Path) -> None:
    client = AgentClient(str(runtime), threads=4)  # as many quick threads as waits

    async def scenario() -> None:
        watches = [
            asyncio.create_task(
                client.call("alice", "files.watch", {"path": str(HOME), "seconds": 4})
            )
            for _ in range(4)
        ]
        # The four waits are under way: her agent watches her home four times over.
        await asyncio.to_thread(
            wait_until, lambda: inotify_watches(HOME, agent_pids("alice", runtime)) == 4, 10, 0.05
        )
        for _ in range(3):
            result, _ = await client.call("alice", "files.stat", {"path": "/home/alice"})
            assert result["kind"] == "folder"
        # Answered while all four waits still wait: not queued behind them.
        assert not any(task.done() for task in watches), "quick calls waited for the watches"
        await asyncio.gather(*watches)

    try:
        asyncio.run(scenario())
    finally:
        client.close()
