"""Open job pages: Slurm's load with 1 and with many, and how fast a change reaches them.

Starts its own portal (port 8002, fresh SQLite), signs alice in a few times and
submits one long job of hers. A "job page" here is what a browser tab on
``/jobs/<id>`` does: one WebSocket on ``/ws`` plus the output request every 2 s.

1. Scheduler load. For 1 page (the baseline) and then ``--pages`` pages, ``sdiag``
   is reset, the pages stay open for ``--seconds``, and slurmctld's RPC count (all
   message types, all users) is read. Prints both and their ratio (target <= 1.1x).
   Other activity on the cluster counts too, so run it on a quiet cluster.
2. Live latency. With the ``--pages`` sockets open, ``--rounds`` times: a job is
   submitted straight to Slurm with ``sbatch`` and then cancelled with ``scancel``;
   for each change the time from the command returning to every socket having the
   new state is recorded, and how long the fan-out took from the first socket to
   the last. Prints p50/p99 of both (target: p99 under 100 ms from detection, which
   the fan-out spread approximates; the end-to-end time adds the watcher's polling
   or the prolog/epilog hook's delay).

Bounded: loopback only, a fixed number of pages and rounds, every job cancelled.

    .venv/bin/python -m loadtests.bench_job_pages [--pages 500] [--seconds 60] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import websockets
from websockets.typing import Origin

from loadtests.bench_submit import percentile
from tests.conftest import running_portal
from tests.helpers import new_client, sign_in, submit_as

PORT = 8002
URL = f"http://127.0.0.1:{PORT}"
COOKIE = "onestop_session"
OUTPUT_EVERY = 2.0


def rpc_count() -> int:
    """slurmctld's RPCs since the last reset, summed over message types."""
    text = subprocess.run(["sdiag"], capture_output=True, text=True, check=True).stdout
    by_type = text.split("Remote Procedure Call statistics by message type", 1)[1]
    by_type = by_type.split("Remote Procedure Call statistics by user", 1)[0]
    return sum(int(count) for count in re.findall(r"count:\s*(\d+)", by_type))


def reset_rpc_counts() -> None:
    subprocess.run(["sdiag", "--reset"], check=True, capture_output=True)


def session_cookies(count: int) -> list[str]:
    cookies = []
    for _ in range(count):
        with new_client() as client:
            sign_in(client, URL, "alice")
            cookies.append(client.cookies[COOKIE])
    return cookies


@contextlib.asynccontextmanager
async def job_pages(
    cookies: list[str], count: int, job: str
) -> AsyncIterator[list[websockets.ClientConnection]]:
    """``count`` open job pages: their sockets, and their output requests running."""
    sockets = []
    for index in range(count):
        cookie = cookies[index % len(cookies)]
        sockets.append(
            await websockets.connect(
                URL.replace("http", "ws") + "/ws",
                origin=Origin(URL),
                additional_headers={"Cookie": f"{COOKIE}={cookie}"},
                max_size=None,
                open_timeout=60,
            )
        )

    async def follow_output(cookie: str, offset: float) -> None:
        async with httpx.AsyncClient(cookies={COOKIE: cookie}, timeout=30) as client:
            await asyncio.sleep(offset)
            while True:
                await client.get(f"{URL}/jobs/{job}/output")
                await asyncio.sleep(OUTPUT_EVERY)

    pollers = [
        asyncio.create_task(follow_output(cookies[i % len(cookies)], OUTPUT_EVERY * i / count))
        for i in range(count)
    ]
    try:
        yield sockets
    finally:
        for task in pollers:
            task.cancel()
        await asyncio.gather(*pollers, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def scheduler_load(cookies: list[str], count: int, job: str, seconds: float) -> int:
    async with job_pages(cookies, count, job) as sockets:
        readers = [asyncio.create_task(_discard(ws)) for ws in sockets]
        await asyncio.sleep(3)  # connections settle and catch up
        reset_rpc_counts()
        await asyncio.sleep(seconds)
        total = rpc_count()
        for task in readers:
            task.cancel()
    return total


async def _discard(ws: websockets.ClientConnection) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for _ in ws:
            pass


async def live_latency(
    cookies: list[str], count: int, job: str, rounds: int, submitted: list[str]
) -> tuple[list[float], list[float]]:
    """(command -> last socket, first socket -> last socket) per change."""
    end_to_end: list[float] = []
    spread: list[float] = []
    async with job_pages(cookies, count, job) as sockets:
        await asyncio.sleep(3)
        for _ in range(rounds):
            new = await asyncio.to_thread(submit_as, "alice", "--wrap", "sleep 600")
            submitted.append(new)
            for state, command in (
                ("pending|running", None),
                ("cancelled", ["scancel", new]),
            ):
                if command is not None:
                    await asyncio.to_thread(subprocess.run, command, check=True)
                started = time.perf_counter()
                pattern = re.compile(rf'id="job-status-{new}"[^>]*data-state="({state})"')
                arrivals = await asyncio.wait_for(
                    asyncio.gather(*(_seen(ws, pattern) for ws in sockets)), 60
                )
                end_to_end.append(max(arrivals) - started)
                spread.append(max(arrivals) - min(arrivals))
    return end_to_end, spread


async def _seen(ws: websockets.ClientConnection, pattern: re.Pattern[str]) -> float:
    while not pattern.search(str(await ws.recv())):
        pass
    return time.perf_counter()


async def run(args: argparse.Namespace, cookies: list[str], job: str, submitted: list[str]) -> None:
    load = {n: await scheduler_load(cookies, n, job, args.seconds) for n in (1, args.pages)}
    print(f"{'pages':>6} {'slurmctld RPCs in ' + str(args.seconds) + ' s':>26}")
    for pages, total in load.items():
        print(f"{pages:>6} {total:>26}")
    print(f"ratio {args.pages}:1  RPCs x{load[args.pages] / max(load[1], 1):.2f}  (target <= 1.1)")
    end_to_end, spread = await live_latency(cookies, args.pages, job, args.rounds, submitted)
    print(f"\nlive latency to {args.pages} sockets, {len(spread)} changes (ms):")
    print(
        f"  command -> last socket   p50 {statistics.median(end_to_end) * 1000:7.1f}"
        f"  p99 {percentile(end_to_end, 0.99) * 1000:7.1f}"
    )
    print(
        f"  first -> last socket     p50 {statistics.median(spread) * 1000:7.1f}"
        f"  p99 {percentile(spread, 0.99) * 1000:7.1f}  (target p99 < 100)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=20, help="sign-ins shared by the pages")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        with running_portal(Path(workdir), PORT, ONESTOP_LOG_LEVEL="WARNING"):
            cookies = session_cookies(args.sessions)
            job = submit_as("alice", "--job-name=bench-page", "--wrap", "sleep 3600")
            submitted = [job]
            try:
                asyncio.run(run(args, cookies, job, submitted))
            finally:
                subprocess.run(["scancel", *submitted], check=False)


if __name__ == "__main__":
    main()
