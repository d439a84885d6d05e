"""Live-update fan-out: does a node drain reach 50 open dashboards as fast as one?

Starts its own portal (port 8002, fresh SQLite), signs in, opens K WebSockets, and
drains/resumes node2 a few times. For each change it records the time from
``scontrol`` returning to the LAST of the K sockets receiving the new node state,
and the portal's CPU time. Prints medians for K=1 (the baseline, measured in the
same run) and K=50, and their ratios. Bounded: a few rounds, loopback only.

    .venv/bin/python -m loadtests.bench_live_fanout [--viewers 50] [--rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import websockets
from websockets.typing import Origin

from tests.conftest import ONESTOP, REPO, portal_env
from tests.helpers import new_client, sign_in

PORT = 8002
URL = f"http://127.0.0.1:{PORT}"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_portal(workdir: Path) -> subprocess.Popen[bytes]:
    env = portal_env(
        f"sqlite:///{workdir}/bench.db",
        ONESTOP_PUBLIC_URL=URL,
        ONESTOP_BIND_PORT=str(PORT),
        ONESTOP_LOG_LEVEL="WARNING",
    )
    subprocess.run([ONESTOP, "db", "upgrade"], env=env, check=True, capture_output=True)
    process = subprocess.Popen([ONESTOP, "serve"], env=env, cwd=REPO)
    for _ in range(150):
        try:
            if httpx.get(URL + "/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the portal did not start")


def session_cookies(count: int) -> list[str]:
    cookies = []
    for _ in range(count):
        with new_client() as client:
            sign_in(client, URL, "alice")
            cookies.append(client.cookies["onestop_session"])
    return cookies


async def measure(cookies: list[str], rounds: int, pid: int) -> tuple[list[float], list[float]]:
    latencies: list[float] = []
    cpu: list[float] = []
    sockets = [
        await websockets.connect(
            URL.replace("http", "ws") + "/ws",
            origin=Origin(URL),
            additional_headers={"Cookie": f"onestop_session={cookie}"},
            max_size=None,
        )
        for cookie in cookies
    ]
    try:
        for ws in sockets:  # the catch-up fragments
            await asyncio.wait_for(ws.recv(), 10)
            await asyncio.wait_for(ws.recv(), 10)
        for round_number in range(rounds):
            wanted = "drained" if round_number % 2 == 0 else "idle"
            command = ["scontrol", "update", "nodename=node2"]
            command += ["state=drain", "reason=bench"] if wanted == "drained" else ["state=resume"]

            async def until_seen(ws: websockets.ClientConnection, state: str = wanted) -> None:
                marker = f'data-node="node2" data-state="{state}"'
                while marker not in str(await ws.recv()):
                    pass

            before_cpu = cpu_seconds(pid)
            await asyncio.to_thread(subprocess.run, command, check=True)
            started = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(until_seen(ws) for ws in sockets)), 30)
            latencies.append(time.perf_counter() - started)
            cpu.append(cpu_seconds(pid) - before_cpu)
            await asyncio.sleep(random.uniform(0.5, 2.5))  # no lock-step with the watcher
    finally:
        for ws in sockets:
            await ws.close()
        resume = ["scontrol", "update", "nodename=node2", "state=resume"]
        await asyncio.to_thread(subprocess.run, resume, check=False, capture_output=True)
    return latencies, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        portal = start_portal(Path(workdir))
        try:
            cookies = session_cookies(args.viewers)
            results = {}
            for viewers in (1, args.viewers):
                results[viewers] = asyncio.run(measure(cookies[:viewers], args.rounds, portal.pid))
        finally:
            portal.terminate()
            portal.wait(10)
    base_latency = statistics.median(results[1][0])
    base_cpu = statistics.median(results[1][1])
    print(f"{'viewers':>8} {'median delay (s)':>17} {'portal CPU per change (s)':>26}")
    for viewers, (latency, cpu) in results.items():
        print(f"{viewers:>8} {statistics.median(latency):>17.3f} {statistics.median(cpu):>26.3f}")
    many_latency, many_cpu = results[args.viewers]
    print(
        f"ratio {args.viewers}:1  delay x{statistics.median(many_latency) / base_latency:.2f}"
        f"  CPU x{statistics.median(many_cpu) / max(base_cpu, 1e-3):.2f}"
        "  (the delay is mostly the watcher's polling interval; Slurm is asked once either way)"
    )


if __name__ == "__main__":
    main()
