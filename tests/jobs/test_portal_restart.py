"""The portal is killed while jobs run and started again: nothing is lost or doubled.

Slurm is the truth about jobs, so a restarted portal shows every job in its real
state; a form sent again after the restart (the browser retrying) finds the job its
token already started instead of starting a second one.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PORT, running_portal
from tests.helpers import job_form, new_client, post_job, sign_in, squeue, wait_until


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
            portal.kill()  # without any chance to clean up
            wait_until(lambda: squeue(short, "%T") == "COMPLETED", 90, 0.5)  # while it is down
            with pytest.raises(httpx.TransportError):
                client.get(f"{portal.url}/healthz")

            portal.start()
            listed = client.get(f"{portal.url}/jobs")  # the same session, from the database
            assert listed.status_code == 200, listed.status_code
            assert row_state(listed.text, short) == "completed"
            assert row_state(listed.text, long) in ("pending", "running")
            # The browser sends the long job's form again: the same job, not a second.
            assert post_job(client, portal.url, long_form) == long
            assert jobs_with_comment(long_form["token"]) == [long]
            assert jobs_with_comment(short_form["token"]) == [short]
        finally:
            subprocess.run(["scancel", short, long], check=False)
