"""The portal is killed while jobs run and started again: nothing is lost or doubled.

Slurm is the truth about jobs, so a restarted portal shows every job in its real
state; a form sent again after the restart (the browser retrying) finds the job its
token already started instead of starting a second one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PORT, running_portal, start_portal_process
from tests.helpers import job_form, new_client, post_job, sign_in


def sleep_form(client: httpx.Client, url: str, name: str, seconds: int) -> dict[str, str]:
    script = f"#!/bin/bash\nsleep {seconds}\necho done\n"
    return job_form(client, url, script, name=name, workdir="/home/alice")


def jobs_with_comment(token: str) -> list[str]:
    listed = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--format=%i %k", "--user=alice"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split()[0] for line in listed.splitlines() if line.endswith(f"onestop:{token}")]


def wait_until_ended(job: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = subprocess.run(
            ["squeue", "--noheader", "--states=all", "--format=%T", "--jobs", job],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if state == "COMPLETED":
            return
        time.sleep(0.5)
    raise AssertionError(f"job {job} did not end in {seconds} s")


def row_state(page: str, job: str) -> str:
    match = re.search(rf'<tr data-job="{job}" data-state="([a-z]+)"', page)
    assert match, f"job {job} is not on the list"
    return match.group(1)


def test_a_killed_portal_comes_back_with_every_job_and_no_duplicates(
    cluster: None, idp: str, tmp_path: Path
) -> None:
    with running_portal(tmp_path, TEST_PORT + 10) as portal, new_client() as client:
        assert sign_in(client, portal.url, "alice").status_code == 303
        short_form = sleep_form(client, portal.url, "short-before-crash", 4)
        long_form = sleep_form(client, portal.url, "long-before-crash", 300)
        short, long = (
            post_job(client, portal.url, short_form),
            post_job(client, portal.url, long_form),
        )
        try:
            # The portal dies without any chance to clean up (fuser: who listens there).
            listening = subprocess.run(
                ["fuser", f"{TEST_PORT + 10}/tcp"], capture_output=True, text=True, check=True
            )
            for pid in listening.stdout.split():
                os.kill(int(pid), signal.SIGKILL)
            wait_until_ended(short)  # while the portal is down
            with pytest.raises(httpx.TransportError):
                client.get(f"{portal.url}/healthz")

            process = start_portal_process(portal.env, portal.log)
            try:
                listed = client.get(f"{portal.url}/jobs")  # the same session, from the database
                assert listed.status_code == 200, listed.status_code
                assert row_state(listed.text, short) == "completed"
                assert row_state(listed.text, long) in ("pending", "running")
                # The browser sends the long job's form again: the same job, not a second.
                assert post_job(client, portal.url, long_form) == long
                assert jobs_with_comment(long_form["token"]) == [long]
                assert jobs_with_comment(short_form["token"]) == [short]
            finally:
                process.kill()
                process.wait(10)
        finally:
            subprocess.run(["scancel", short, long], check=False)
