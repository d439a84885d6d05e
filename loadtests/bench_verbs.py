"""Verb round-trip cost: the gate and the person's agent vs doing it in-process.

Builds a real gate (Casbin on a fresh SQLite file, audit records written, agents
started by the real launcher), then times ``files.stat`` and ``files.list`` of a
1,000-entry folder through it, and the same work done directly with ``os.stat`` and
``os.scandir`` in this process. Prints per-call times, the added overhead and the
ratio, all measured in this run. Targets: under 1 ms added per call, listing within
1.5x of a direct scandir.

    .venv/bin/python -m loadtests.bench_verbs [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from alembic import command

from app.audit import Auditor
from app.db import alembic_config, create_engine, session_factory
from app.policy import load_policy
from app.security.sessions import Identity, SessionStore
from app.settings import load_settings
from app.tools import discover, ensure_rules, open_gate
from app.verbs import Services
from managers.agent.client import AgentClient
from managers.cluster_watcher import ClusterWatcher
from managers.scheduler.slurm import SlurmAdapter

FOLDER = Path("/home/alice/bench-1000")


async def _ignore(audience: str | None, payload: dict[str, Any]) -> None:
    return None


def make_folder() -> None:
    FOLDER.mkdir(exist_ok=True)
    for index in range(1000):
        (FOLDER / f"file-{index:04d}.dat").write_bytes(b"x" * index)
    for path in [FOLDER, *FOLDER.iterdir()]:
        os.chown(path, 2001, 2001)


def direct_list() -> int:
    count = 0
    with os.scandir(FOLDER) as listing:
        for entry in listing:
            entry.stat()
            count += 1
    return count


async def timed(calls: int, work: Any) -> float:
    """Median seconds per call over ``calls`` calls, after a warm-up."""
    for _ in range(min(50, calls)):
        await work()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def main(calls: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="onestop-bench-"))
    runtime = Path("/run/onestop-bench/agents")
    url = f"sqlite:///{workdir}/bench.db"
    command.upgrade(alembic_config(url), "head")
    engine = create_engine(url)
    database = session_factory(engine)
    os.environ["ONESTOP_AGENTS__RUNTIME_DIR"] = str(runtime)
    os.environ["ONESTOP_AGENTS__LOG_DIR"] = str(workdir / "logs")
    agents = AgentClient(str(runtime))
    policy = await load_policy(engine, url)
    await policy.sync_derived_roles("alice", projects=["chem"], is_admin=False)
    scheduler = SlurmAdapter()
    settings = load_settings(database_url=url)
    services = Services(
        policy,
        agents,
        scheduler,
        ClusterWatcher(scheduler, _ignore),
        SessionStore(database, settings),
        database,
        settings,
    )
    tools = discover(settings.disabled_tools)
    await ensure_rules(policy, tools)
    gate = await open_gate(services, Auditor(database), tools)
    alice = Identity(1, "alice", "Alice", "")
    make_folder()
    try:

        async def stat_gate() -> None:
            await gate.call(alice, "files.stat", path=str(FOLDER))

        async def stat_direct() -> None:
            os.stat(FOLDER)

        async def list_gate() -> None:
            await gate.call(alice, "files.list", path=str(FOLDER), limit=1000)

        async def list_direct() -> None:
            direct_list()

        results = {
            "files.stat": (await timed(calls, stat_direct), await timed(calls, stat_gate)),
            "files.list 1,000": (
                await timed(calls // 10, list_direct),
                await timed(calls // 10, list_gate),
            ),
        }
    finally:
        agents.close()
        await gate.auditor.close()
        await engine.dispose()
        shutil.rmtree(FOLDER, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'verb':<18}{'direct (ms)':>13}{'gate+agent (ms)':>17}{'added (ms)':>12}{'ratio':>8}")
    for name, (direct, gated) in results.items():
        print(
            f"{name:<18}{direct * 1000:>13.3f}{gated * 1000:>17.3f}"
            f"{(gated - direct) * 1000:>12.3f}{gated / direct:>8.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args().calls))
