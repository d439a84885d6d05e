"""Submitting through the portal vs ``sbatch`` run directly as the same person.

Starts its own portal (port 8002), signs alice in, then alternates: one submission
through the portal's form (HTTP POST until the job id is known, which includes the
gate, policy, audit, her agent and sbatch) and one ``sbatch`` run directly as alice.
Prints p50 and p99 of each and their ratios, all from this one run. Targets: p50 at
most 1.2x, p99 at most 1.5x. Each submission waits a moment (``--pause``, random
around 0.3 s) so the previous one's after-effects (its prolog, the portal's reading
of the queue) do not land in the next measurement, on either side. Every job it
submits is cancelled at the end.

    .venv/bin/python -m loadtests.bench_submit [--rounds 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from loadtests.bench_live_fanout import URL, start_portal
from tests.helpers import job_form, new_client, sign_in

SCRIPT = "#!/bin/bash\ntrue\n"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def settle(pause: float) -> None:
    """A short random pause before each submission, so each is measured as a person
    makes it: not while the cluster (and the portal's reading of it, and the prolog
    of the job just before) is still busy with the previous one."""
    time.sleep(random.uniform(pause * 0.5, pause * 1.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--pause", type=float, default=0.3, help="seconds between submissions (about)"
    )
    rounds, pause = parser.parse_args().rounds, parser.parse_args().pause
    portal_times: list[float] = []
    direct_times: list[float] = []
    jobs: list[str] = []
    with tempfile.TemporaryDirectory() as workdir:
        portal = start_portal(Path(workdir))
        try:
            with new_client() as client:
                sign_in(client, URL, "alice")
                # Round 0 is a warm-up, reported apart: her first submission also
                # starts her agent (once per person until it idles out).
                for _ in range(rounds + 1):
                    fields = job_form(client, URL, SCRIPT, name="bench", time_minutes="1")
                    settle(pause)
                    started = time.perf_counter()
                    answer = client.post(URL + "/jobs/new", data=fields)
                    portal_times.append(time.perf_counter() - started)
                    assert answer.status_code == 303, answer.text[:300]
                    jobs.append(answer.headers["location"].rsplit("/", 1)[-1])
                    settle(pause)
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
    first_portal, first_direct = portal_times.pop(0), direct_times.pop(0)
    print(
        f"first submission (starts her agent): portal {first_portal * 1000:.1f} ms, "
        f"direct {first_direct * 1000:.1f} ms"
    )
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
