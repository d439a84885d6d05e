"""Submitting through the portal vs ``sbatch`` run directly as the same person.

Starts its own portal (port 8002), signs alice in, then alternates: one submission
through the portal's form (HTTP POST until the job id is known, which includes the
gate, policy, audit, her agent and sbatch) and one ``sbatch`` run directly as alice.
Prints p50 and p99 of each and their ratios, all from this one run. Targets: p50 at
most 1.2x, p99 at most 1.5x. Every job it submits is cancelled at the end.

    .venv/bin/python -m loadtests.bench_submit [--rounds 30]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from loadtests.bench_live_fanout import URL, start_portal
from tests.helpers import new_client, sign_in

SCRIPT = "#!/bin/bash\ntrue\n"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    portal_times: list[float] = []
    direct_times: list[float] = []
    jobs: list[str] = []
    with tempfile.TemporaryDirectory() as workdir:
        portal = start_portal(Path(workdir))
        try:
            with new_client() as client:
                sign_in(client, URL, "alice")
                for _ in range(rounds):
                    form = client.get(URL + "/jobs/new").text
                    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
                    token = re.search(r'name="token" value="([^"]+)"', form)
                    assert csrf and token, "the form has no tokens"
                    fields = {
                        "csrf_token": csrf.group(1),
                        "token": token.group(1),
                        "name": "bench",
                        "script": SCRIPT,
                        "time_minutes": "1",
                        "nodes": "1",
                        "ntasks": "1",
                        "cpus_per_task": "1",
                        "memory_mb": "0",
                    }
                    started = time.perf_counter()
                    answer = client.post(URL + "/jobs/new", data=fields)
                    portal_times.append(time.perf_counter() - started)
                    assert answer.status_code == 303, answer.text[:300]
                    jobs.append(answer.headers["location"].rsplit("/", 1)[-1])
                    started = time.perf_counter()
                    direct = subprocess.run(
                        [
                            "runuser",
                            "-u",
                            "alice",
                            "--",
                            "sbatch",
                            "--parsable",
                            "--chdir=/home/alice",
                            "--job-name=bench",
                            "--time=1",
                        ],
                        input=SCRIPT,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    direct_times.append(time.perf_counter() - started)
                    jobs.append(direct.stdout.strip())
        finally:
            subprocess.run(["scancel", *jobs], check=False)
            portal.terminate()
            portal.wait(10)
    print(f"{'':>10}{'p50 (ms)':>10}{'p99 (ms)':>10}")
    for label, samples in (("direct", direct_times), ("portal", portal_times)):
        print(
            f"{label:>10}{percentile(samples, 0.5) * 1000:>10.1f}"
            f"{percentile(samples, 0.99) * 1000:>10.1f}"
        )
    print(
        f"ratio p50 x{percentile(portal_times, 0.5) / percentile(direct_times, 0.5):.2f}  "
        f"p99 x{percentile(portal_times, 0.99) / percentile(direct_times, 0.99):.2f}  "
        f"({rounds} of each, alternating)"
    )
    assert statistics.mean(portal_times) > 0


if __name__ == "__main__":
    main()
