"""The Slurm hook brings a job's start and end to the portal in well under its polling
interval: this portal reads the cluster on its own only every 20 s, and the job is
submitted with sbatch, outside the portal, so nothing else pokes it."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.conftest import Portal
from tests.helpers import submit_as
from tests.notifications.conftest import POLL_SECONDS, signed_in

EVENTS = Path("/run/onestop-slurm/events")


def hook_time(job: str, what: str) -> float:
    for line in EVENTS.read_text().splitlines():
        stamp, event, job_id = [*line.split(), "", "", ""][:3]
        if event == what and job_id == job:
            return float(stamp)
    raise AssertionError(f"no {what} line for job {job} in {EVENTS}")


def test_start_and_end_reach_the_portal_through_the_hook(notify_portal: Portal) -> None:
    portal = notify_portal
    with signed_in(portal, "alice") as alice:
        alice.get(portal.url + "/jobs")
        job = submit_as("alice", "--job-name=hooked", "--wrap", "sleep 3")
        row = re.compile(rf'<tr data-job="{job}" data-state="(\w+)"')
        seen: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while "completed" not in seen:
            assert time.monotonic() < deadline, seen
            match = row.search(alice.get(portal.url + "/jobs").text)
            if match:
                seen.setdefault(match.group(1), time.time())
            time.sleep(0.05)
    started = seen.get("running", seen["completed"]) - hook_time(job, "start")
    ended = seen["completed"] - hook_time(job, "end")
    print(f"\nhook latency: start {started:.2f} s, end {ended:.2f} s (polling: {POLL_SECONDS} s)")
    assert started < POLL_SECONDS / 5, started
    assert ended < POLL_SECONDS / 5, ended
