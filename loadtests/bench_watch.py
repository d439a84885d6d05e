"""Live folders: how soon a change ends a ``files.watch`` wait, through her agent vs
the same wait in this process.

Starts alice's agent with the real launcher (a runtime folder of its own), then, in
this run, times from the moment a file is created in her folder to the moment the
wait answers:

- ``watch_folder`` called in this process (the very code the agent runs: watchfiles
  gathering a burst of changes for 50 ms, 500 ms at the most), the baseline;
- ``files.watch`` through her agent (socket, as alice, the agent's thread).

Each wait is armed first (its inotify watch is set up) so only the wake-up is timed.
Also times a wait that nothing ends, asked for one second, both ways. Prints medians
and the ratios to the baseline. Taken from the tests' old bounds: a change ends the
wait well within 3 s, and an unchanged one-second wait within 4 s.

    .venv/bin/python -m loadtests.bench_watch [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from managers.agent.client import AgentClient
from managers.files.watch import watch_folder
from tests.agents.conftest import agent_pids, stop_agents
from tests.helpers import inotify_watches, wait_until

ALICE = 2001


def make_folder() -> Path:
    folder = Path(f"/home/alice/bench-watch-{uuid.uuid4().hex[:6]}")
    folder.mkdir()
    os.chown(folder, ALICE, ALICE)
    folder.chmod(0o700)
    return folder


async def woken(
    folder: Path,
    wait: Callable[[], Coroutine[Any, Any, dict[str, Any]]],
    pids: Callable[[], list[int]],
) -> float:
    """Seconds from a new file to the armed wait's answer (which must say changed)."""
    task = asyncio.create_task(wait())
    await asyncio.to_thread(wait_until, lambda: inotify_watches(folder, pids()) == 1, 15, 0.01)
    started = time.perf_counter()
    os.close(os.open(folder / f"new-{uuid.uuid4().hex[:6]}", os.O_CREAT | os.O_WRONLY, 0o644))
    result = await task
    took = time.perf_counter() - started
    assert result["changed"], result
    return took


async def main(rounds: int) -> None:
    base = Path("/run/onestop-bench") / uuid.uuid4().hex[:8]
    os.environ["ONESTOP_CONFIG"] = "/nonexistent.toml"
    os.environ["ONESTOP_AGENTS__RUNTIME_DIR"] = str(base / "agents")
    os.environ["ONESTOP_AGENTS__LOG_DIR"] = str(base / "logs")
    agents = AgentClient(str(base / "agents"))
    folder = make_folder()
    try:

        async def direct(seconds: float = 30) -> dict[str, Any]:
            return await asyncio.to_thread(watch_folder, str(folder), seconds)

        async def through_agent(seconds: float = 30) -> dict[str, Any]:
            result, _ = await agents.call(
                "alice", "files.watch", {"path": str(folder), "seconds": seconds}
            )
            return dict(result)

        await agents.call("alice", "files.stat", {"path": str(folder)})  # her agent is up

        def here() -> list[int]:
            return [os.getpid()]

        def hers() -> list[int]:
            return agent_pids("alice", base / "agents")

        wake: dict[str, list[float]] = {"direct": [], "agent": []}
        for _ in range(rounds):
            wake["direct"].append(await woken(folder, direct, here))
            wake["agent"].append(await woken(folder, through_agent, hers))
        idle: dict[str, list[float]] = {"direct": [], "agent": []}
        for _ in range(3):
            for name, wait in (("direct", direct), ("agent", through_agent)):
                started = time.perf_counter()
                result = await wait(1.0)
                idle[name].append(time.perf_counter() - started)
                assert not result["changed"], result
    finally:
        agents.close()
        stop_agents(base / "agents")
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"files.watch, medians of {rounds} wake-ups and 3 one-second waits")
    for label, samples in (("a new file ends the wait", wake), ("nothing changes, 1 s", idle)):
        baseline = statistics.median(samples["direct"])
        agent = statistics.median(samples["agent"])
        print(
            f"  {label:26s} in this process {baseline * 1000:8.1f} ms   "
            f"through her agent {agent * 1000:8.1f} ms   {agent / baseline:5.2f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    asyncio.run(main(parser.parse_args().rounds))
