"""A site whose Slurm is not in /usr/bin: with ``slurm.bin_dir`` pointing elsewhere,
the portal reads the cluster from there and her agent submits and cancels from there.

The folder holds wrappers around the real commands that note each call (who ran
it, which command) before running it, so the test fails if any part of the portal
or of an agent still runs /usr/bin/sbatch or /usr/bin/scancel itself.
"""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_PORT, portal_with_own_agents
from tests.helpers import job_form, post_job, signed_in, squeue, wait_until

COMMANDS = ("sbatch", "scancel", "scontrol", "squeue", "sinfo", "sacct", "srun")
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def slurm_folder() -> Iterator[Path]:
    """A folder of wrappers that alice's agent can run (a test's tmp_path is root's
    alone), with the log every one of them appends to."""
    base = Path("/run/onestop-test") / f"bin-{uuid.uuid4().hex[:8]}"
    folder = base / "slurm" / "bin"
    folder.mkdir(parents=True)
    for part in (base, base / "slurm", folder):
        part.chmod(0o755)
    log = base / "calls.log"
    log.touch()
    log.chmod(0o666)  # written by the portal's user and by alice's agent
    for name in COMMANDS:
        real = shutil.which(name, path="/usr/bin")
        assert real, f"no {name} in /usr/bin"
        wrapper = folder / name
        wrapper.write_text(f'#!/bin/sh\necho "$(id -un) {name} $*" >> {log}\nexec {real} "$@"\n')
        wrapper.chmod(0o755)
    yield folder
    shutil.rmtree(base, ignore_errors=True)


def calls(folder: Path) -> list[tuple[str, str, str]]:
    """(user, command, arguments) for every call made through the folder."""
    lines = (folder.parent.parent / "calls.log").read_text().splitlines()
    return [(*line.split(" ", 2), "")[:3] for line in lines]  # type: ignore[misc]


def test_submit_and_cancel_go_through_slurm_bin_dir(
    cluster: None, idp: str, tmp_path: Path, slurm_folder: Path
) -> None:
    with (
        portal_with_own_agents(
            tmp_path, TEST_PORT + 10, ONESTOP_SLURM__BIN_DIR=str(slurm_folder)
        ) as portal,
        signed_in(portal.url, "alice") as client,
    ):
        # The job's own srun finds the site's Slurm too: sbatch hands it its PATH.
        script = "#!/bin/bash\nsrun --ntasks=1 true\nsleep 300\n"
        form = job_form(client, portal.url, script, name="bin-dir-check")
        job = post_job(client, portal.url, form)
        try:
            wait_until(lambda: ("alice", "srun", "--ntasks=1 true") in calls(slurm_folder), 60)
            page = client.get(f"{portal.url}/jobs/{job}")
            assert page.status_code == 200, page.text[:500]
            match = CSRF.search(page.text)
            assert match, "the job page has no CSRF token"
            answer = client.post(
                f"{portal.url}/jobs/{job}/cancel", data={"csrf_token": match.group(1)}
            )
            assert answer.status_code == 303, answer.text[:500]
            wait_until(lambda: squeue(job, "%T") in ("", "CANCELLED"), 30)
        finally:
            subprocess.run(["scancel", job], check=False)

    made = calls(slurm_folder)
    # Her agent, as alice, ran sbatch and scancel from the folder...
    assert ("alice", "sbatch") in {(user, name) for user, name, _ in made}, made
    assert ("alice", "scancel", job) in made, made
    # ...and the portal read the cluster from there too (as its own user).
    portal_user = getpass.getuser()
    read = {name for user, name, _ in made if user == portal_user}
    assert {"squeue", "sinfo"} <= read, made
