"""The Slurm hook brings a job's start and end to the portal: this portal follows the
hook's file, and reads the cluster on its own only every 20 s; the job is submitted
with sbatch, outside the portal, so nothing else pokes it.

How soon the portal shows them (against squeue asked directly) is measured by
loadtests/bench_hook.py, not here."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import Portal
from tests.helpers import signed_in, submit_as, wait_until
from tests.notifications.conftest import portal_log_events

EVENTS = Path("/run/onestop-slurm/events")


def hook_time(job: str, what: str) -> float:
    for line in EVENTS.read_text().splitlines():
        stamp, event, job_id = [*line.split(), "", "", ""][:3]
        if event == what and job_id == job:
            return float(stamp)
    raise AssertionError(f"no {what} line for job {job} in {EVENTS}")


def test_start_and_end_reach_the_portal_through_the_hook(notify_portal: Portal) -> None:
    portal = notify_portal
    followed = [e["path"] for e in portal_log_events(portal, "slurm_hook_following")]
    assert str(EVENTS) in followed, "the portal follows the hook's file"
    with signed_in(portal.url, "alice") as alice:
        alice.get(portal.url + "/jobs")
        job = submit_as("alice", "--job-name=hooked", "--wrap", "sleep 3")
        row = re.compile(rf'<tr data-job="{job}" data-state="(\w+)"')
        seen: list[str] = []

        def completed() -> bool:
            match = row.search(alice.get(portal.url + "/jobs").text)
            if match and match.group(1) not in seen:
                seen.append(match.group(1))
            return "completed" in seen

        wait_until(completed, 60, 0.05)
    # The hook wrote the job's start and its end, and her list followed it to the end.
    assert hook_time(job, "start") <= hook_time(job, "end")
    assert seen[-1] == "completed", seen
