"""The portal's own environment never reaches a submission: an ``SBATCH_*`` or
``SLURM_*`` variable set where the portal runs changes nothing about a job."""

from __future__ import annotations

import subprocess

import pytest

from managers.execution import operations
from managers.scheduler.slurm.commands import clean_environment


def test_the_environment_of_slurm_commands_is_rebuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SBATCH_PARTITION", "long")
    monkeypatch.setenv("SLURM_CONF", "/etc/slurm/slurm.conf")
    monkeypatch.setenv("SLURM_JOB_ID", "12")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    env = clean_environment()
    assert "SBATCH_PARTITION" not in env and "SLURM_JOB_ID" not in env
    assert "LD_PRELOAD" not in env
    assert env["LC_ALL"] == "C.UTF-8"


def test_sbatch_variables_where_the_portal_runs_change_nothing(
    cluster: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each would change the job if sbatch saw it: another partition, a longer limit,
    # a hold, another name.
    monkeypatch.setenv("SBATCH_PARTITION", "long")
    monkeypatch.setenv("SBATCH_TIMELIMIT", "600")
    monkeypatch.setenv("SBATCH_HOLD", "1")
    monkeypatch.setenv("SBATCH_JOB_NAME", "from-the-environment")
    submitted = operations.submit(
        "#!/bin/bash\nsleep 30\n", name="env-check", time_minutes=3, workdir="/tmp"
    )
    job = submitted["job_id"]
    try:
        shown = subprocess.run(
            ["squeue", "--noheader", "--jobs", job, "--format=%P|%l|%j|%r"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        partition, limit, name, reason = shown.split("|")
        assert partition == "debug" and limit == "3:00" and name == "env-check", shown
        assert reason != "JobHeldUser", shown
    finally:
        subprocess.run(["scancel", job], check=False)
