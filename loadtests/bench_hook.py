"""Job starts and ends through the Slurm hook: how soon the portal's job list shows
them, against ``squeue`` asked directly at the same pace.

Starts its own portal (port 8002 unless ``--port``) that reads the cluster on its
own only every 20 s, so what it shows sooner came through the demo cluster's
PrologSlurmctld/EpilogSlurmctld hook (``/run/onestop-slurm/events``). Signs alice
in, then for each round submits a short job with ``sbatch`` (outside the portal)
and watches it two ways at once, every 50 ms: her ``/jobs`` page, and ``squeue``
run directly (the baseline: Slurm itself). Times each from the hook's own line for
the start and the end, and prints medians and the ratio to ``squeue``. The bar the
test used to hold: both within a fifth of the polling interval (4 s).

    .venv/bin/python -m loadtests.bench_hook [--rounds 5] [--port 8002]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import running_portal
from tests.helpers import signed_in, submit_as, wait_until

EVENTS = Path("/run/onestop-slurm/events")
POLL_SECONDS = 20.0
EVERY = 0.05


def hook_time(job: str, what: str) -> float:
    """When the hook wrote its ``what`` line for ``job`` (0 while it has not)."""
    for line in EVENTS.read_text().splitlines():
        stamp, event, job_id = [*line.split(), "", "", ""][:3]
        if event == what and job_id == job:
            return float(stamp)
    return 0.0


def follow(state_of: Callable[[], str | None], seen: dict[str, float]) -> None:
    """Until the job is completed: the wall-clock time each state was first seen."""
    deadline = time.monotonic() + 120
    while "completed" not in seen and time.monotonic() < deadline:
        state = state_of()
        if state:
            seen.setdefault(state, time.time())
        time.sleep(EVERY)


def one_round(url: str, client_get: Callable[[str], str]) -> dict[str, tuple[float, float]]:
    """Seconds from the hook's line to each side showing the start and the end."""
    job = submit_as("alice", "--job-name=bench-hook", "--wrap", "sleep 2")
    row = re.compile(rf'<tr data-job="{job}" data-state="(\w+)"')

    def on_page() -> str | None:
        match = row.search(client_get(url + "/jobs"))
        return match.group(1) if match else None

    def in_squeue() -> str | None:
        state = subprocess.run(
            ["squeue", "--noheader", "--states=all", "--format=%T", "--jobs", job],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return state.lower() or None

    seen: dict[str, dict[str, float]] = {"portal": {}, "squeue": {}}
    threads = [
        threading.Thread(target=follow, args=(on_page, seen["portal"])),
        threading.Thread(target=follow, args=(in_squeue, seen["squeue"])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    start = wait_until(lambda: hook_time(job, "start"), 10)
    end = wait_until(lambda: hook_time(job, "end"), 10)
    return {
        side: (times.get("running", times["completed"]) - start, times["completed"] - end)
        for side, times in seen.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=8002)
    options = parser.parse_args()
    results: list[dict[str, tuple[float, float]]] = []
    with tempfile.TemporaryDirectory() as workdir:
        with (
            running_portal(
                Path(workdir),
                options.port,
                ONESTOP_LOG_LEVEL="WARNING",
                ONESTOP_SLURM__POLL_INTERVAL_SECONDS=str(POLL_SECONDS),
                ONESTOP_SLURM__IDLE_POLL_INTERVAL_SECONDS=str(POLL_SECONDS),
            ) as portal,
            signed_in(portal.url, "alice") as alice,
        ):
            alice.get(portal.url + "/jobs")  # her agent is up, her page was seen once
            for _ in range(options.rounds):
                results.append(one_round(portal.url, lambda url: alice.get(url).text))
    print(
        f"job start and end from the hook's line, medians of {options.rounds} jobs "
        f"(regular readings every {POLL_SECONDS:g} s; both sides asked every {EVERY:g} s)"
    )
    for index, label in enumerate(("start", "end")):
        direct = statistics.median(r["squeue"][index] for r in results)
        portal_seconds = statistics.median(r["portal"][index] for r in results)
        print(
            f"  {label:5s} squeue directly {direct * 1000:8.0f} ms   "
            f"the portal's job list {portal_seconds * 1000:8.0f} ms   "
            f"{portal_seconds / max(direct, EVERY):5.2f}x   "
            f"({portal_seconds / POLL_SECONDS:.2f} of the polling interval)"
        )


if __name__ == "__main__":
    main()
