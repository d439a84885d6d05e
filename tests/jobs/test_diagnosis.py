"""A failed job's page explains the likely cause (wrappers/jobs/diagnosis.py).

First the pattern table on real-looking outputs (the slurmstepd, bash, dash, cat and
Python lines below were copied from jobs run on the demo cluster), including outputs
that must not be misdiagnosed; then each explanation on a real job that fails that
way on the demo cluster, read on its page through a real portal with sign-in. The
jobs are submitted together and waited for together (about a minute and a half, the
time-limit job being the slowest)."""

from __future__ import annotations

import html
import re
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from managers.scheduler import Job, JobUsage
from tests.browser.conftest import browser, page, screenshot, sign_in
from tests.conftest import Portal
from tests.helpers import job_form, signed_in, squeue, submit_as, wait_until
from wrappers.jobs.diagnosis import Diagnosis, diagnose, explain_refusal

__all__ = ["browser", "page"]

OOM_ERR = (
    "slurmstepd-node1: error: StepId=22.batch exceeded memory limit (429195264 > 104857600), "
    "being killed\n"
    "slurmstepd-node1: error: *** JOB 22 ON node1 CANCELLED AT 2026-12-04T18:02:46 ***\n"
    "slurmstepd-node1: error: Exceeded job memory limit\n"
)
CHDIR_ERR = (
    "slurmstepd-node2: error: couldn't chdir to `/home/alice/nonexistent-folder': "
    "No such file or directory: going to /tmp instead\n"
)


def job(state: str, exit_code: int | None = 1, **more: object) -> Job:
    return Job.model_validate(
        {
            "job_id": "22",
            "name": "analysis",
            "user": "alice",
            "state": state,
            "exit_code": exit_code,
            "workdir": "/home/alice/project",
            **more,
        }
    )


def key_of(found: Diagnosis | None) -> str | None:
    return found.key if found else None


@pytest.mark.parametrize(
    ("state", "exit_code", "errors", "expected", "words"),
    [
        ("failed", 0, OOM_ERR, "memory", "for example 1 GB"),
        ("out_of_memory", 0, "", "memory", "for example 8 GB"),
        ("failed", 1, "Traceback (most recent call last):\nMemoryError\n", "memory", ""),
        (
            "failed",
            127,
            "/var/spool/job00024/slurm_script: line 4: frobnicate: command not found\n",
            "command",
            "“frobnicate”",
        ),
        # dash, when a folder on PATH is not hers to read: the words lie, the 127 does not.
        (
            "failed",
            127,
            "/var/lib/slurmd-node2/job00024/slurm_script: 4: frobnicate: Permission denied\n",
            "command",
            "“frobnicate” was not found",
        ),
        (
            "failed",
            127,
            "bash: line 1: module: command not found\n",
            "module-command",
            "#!/bin/bash -l",
        ),
        (
            "failed",
            1,
            "cat: /home/alice/input-missing.csv: No such file or directory\n",
            "no-file",
            "could not find /home/alice/input-missing.csv",
        ),
        (
            "failed",
            1,
            "FileNotFoundError: [Errno 2] No such file or directory: 'data.csv'\n",
            "no-file",
            "its working folder /home/alice/project",
        ),
        ("failed", 1, "cat: /etc/shadow: Permission denied\n", "permission", "/etc/shadow"),
        (
            "failed",
            1,
            "PermissionError: [Errno 13] Permission denied: '/data/shared/x'\n",
            "permission",
            "/data/shared/x",
        ),
        (
            "failed",
            1,
            'Traceback (most recent call last):\n  File "<string>", line 1, in <module>\n'
            "ModuleNotFoundError: No module named 'numpyx'\n",
            "python-module",
            "pip install --user numpyx",
        ),
        (
            "failed",
            1,
            "ModuleNotFoundError: No module named 'scipy.linalg'\n",
            "python-module",
            "pip install --user scipy",
        ),
        # The missing folder comes first: the missing file is its consequence.
        (
            "failed",
            1,
            CHDIR_ERR + "cat: data.csv: No such file or directory\n",
            "workdir",
            "/home/alice/nonexistent-folder did not exist",
        ),
        # Slurm carries on in /tmp, so even a finished job ran in the wrong place.
        ("completed", 0, CHDIR_ERR, "workdir", "ran in /tmp instead"),
        # Must not be misdiagnosed:
        ("completed", 0, "cat: /etc/shadow: Permission denied\nModuleNotFoundError: x\n", None, ""),
        ("completed", 0, "warning: frobnicate: command not found\n", None, ""),
        ("cancelled", 0, "cat: /home/alice/x: No such file or directory\n", None, ""),
        ("running", None, "cat: /etc/shadow: Permission denied\n", None, ""),
        ("failed", 2, "Error: the answer was 41, expected 42\n", None, ""),
        ("failed", 137, "Killed\n", None, ""),  # killed, but no sign it was memory
        ("failed", 1, "echo 'Permission granted'\n", None, ""),
    ],
)
def test_pattern_table(
    state: str, exit_code: int | None, errors: str, expected: str | None, words: str
) -> None:
    found = diagnose(job(state, exit_code), errors)
    assert key_of(found) == expected, found
    if found is not None:
        assert words in found.as_text()


def test_out_of_memory_suggests_twice_what_it_reached_and_prefills_it() -> None:
    found = diagnose(job("failed", 0), OOM_ERR)
    assert found is not None
    assert "than the 100 MB it asked for" in found.why
    assert "reached about 409 MB" in found.why
    assert found.change == {"memory_mb": 1024}
    assert found.button == "Submit again with 1 GB of memory"


def test_out_of_memory_from_accounting_when_the_output_says_only_killed() -> None:
    usage = JobUsage(
        job=job("failed", 137), memory_requested_kb=4 * 1024 * 1024, memory_peak_kb=3_900_000
    )
    found = diagnose(usage.job, "/var/spool/slurm_script: line 3:  4242 Killed  ./model\n", usage)
    assert key_of(found) == "memory"
    assert found is not None and found.change == {"memory_mb": 8192}
    assert "than the 4 GB it asked for" in found.why
    # Far from its limit, a kill is something else (someone's kill -9, a watchdog).
    quiet = JobUsage(job=usage.job, memory_requested_kb=4 * 1024 * 1024, memory_peak_kb=20_000)
    assert diagnose(usage.job, "Killed\n", quiet) is None


def test_time_limit_says_what_it_asked_and_doubles_it() -> None:
    found = diagnose(job("timeout", 0, time_limit_minutes=60), "")
    assert found is not None and found.key == "time"
    assert "asked for 1 hour" in found.why
    assert found.change == {"time_minutes": 120}
    assert found.button == "Submit again with 2 hours"


def test_a_request_no_node_can_hold() -> None:
    assert key_of(diagnose(job("pending", None, reason="PartitionConfig"))) == "too-big"
    assert key_of(diagnose(job("pending", None, reason="ReqNodeNotAvail, UnavailableNodes:"))) == (
        "too-big"
    )
    # Busy nodes, a held job or a queue position are not "never".
    for reason in ("Resources", "Priority", "JobHeldUser", "Dependency"):
        assert diagnose(job("pending", None, reason=reason)) is None
    refused = explain_refusal(
        "sbatch: error: Memory specification can not be satisfied\n"
        "sbatch: error: Batch job submission failed: Requested node configuration is not available"
    )
    assert refused is not None and "more than any node" in refused.what
    assert explain_refusal("Invalid account or account/partition combination specified") is None


# --- Real jobs on the demo cluster, read on their pages through the portal ---------------

RUNS = {
    # name: (sbatch options, the command, words the page must show)
    "oom": (
        ["--mem=100M"],
        'python3 -c "x = bytearray(400 * 1024 * 1024); import time; time.sleep(40)"',
        [
            "It ran out of memory",
            "than the 100 MB it asked for",
            "for example 1 GB",
            "Submit again with 1 GB of memory",
        ],
    ),
    "timeout": (
        ["--time=1"],
        "sleep 300",
        ["It ran out of time", "It asked for 1 minute", "for example 15 minutes"],
    ),
    "command": (
        [],
        "bash -c 'frobnicate --fast'",
        ["The command “frobnicate” was not found", "Check the spelling of frobnicate"],
    ),
    "module": (
        [],
        "bash -c 'module load gcc'",
        ["The command “module” was not found", "#!/bin/bash -l"],
    ),
    "nofile": (
        [],
        "cat /home/alice/input-that-is-not-there.csv",
        ["It could not find /home/alice/input-that-is-not-there.csv"],
    ),
    "denied": (
        [],
        "cat /etc/shadow",
        ["It was not allowed to use /etc/shadow"],
    ),
    "pymodule": (
        [],
        "python3 -c 'import numpyx'",
        ["Python could not find the module “numpyx”", "pip install --user numpyx"],
    ),
    "workdir": (
        ["--chdir=/home/alice/no-such-folder-for-diagnosis"],
        "cat input.csv",
        ["/home/alice/no-such-folder-for-diagnosis did not exist, so it ran in /tmp instead"],
    ),
    "toobig": (
        ["--cpus-per-task=64"],
        "true",
        ["It cannot start: it asks for more than any node of its partition has"],
    ),
    # Prints the words of a failure, and succeeds: nothing to explain.
    "fine": (
        [],
        "echo 'cat: /etc/shadow: Permission denied' >&2; echo 'No module named x' >&2; true",
        [],
    ),
}
BOX = "What went wrong"


@pytest.fixture(scope="module")
def failed_jobs() -> Iterator[dict[str, str]]:
    """Every job of ``RUNS`` submitted as alice at once, each with its own error file."""
    folder = f"/home/alice/diagnosis-{uuid.uuid4().hex[:8]}"
    subprocess.run(["runuser", "-u", "alice", "--", "mkdir", folder], check=True)
    ids: dict[str, str] = {}
    try:
        for name, (options, command, _words) in RUNS.items():
            ids[name] = submit_as(
                "alice",
                f"--job-name=diag-{name}",
                "--partition=debug",
                f"--error={folder}/{name}.err",
                *options,
                f"--wrap={command}",
            )
        yield ids
    finally:
        subprocess.run(["scancel", *ids.values()], check=False)
        subprocess.run(["rm", "-rf", folder], check=False)


def shown_words(page: str) -> str:
    """The page's text, tags taken out and entities read, spaces squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_each_failure_is_explained_on_its_page(portal: Portal, failed_jobs: dict[str, str]) -> None:
    ended = {"FAILED", "TIMEOUT", "OUT_OF_MEMORY", "COMPLETED"}

    def all_settled() -> bool:
        states = {name: squeue(job_id, "%T") for name, job_id in failed_jobs.items()}
        pending = states.pop("toobig")
        return pending == "PENDING" and all(
            state in ended or state == "" for state in states.values()
        )

    wait_until(all_settled, seconds=180, every=2)
    with signed_in(portal.url, "alice") as client:
        for name, job_id in failed_jobs.items():
            words = RUNS[name][2]

            def explained(job_id: str = job_id, words: list[str] = words) -> str:
                text = shown_words(client.get(f"{portal.url}/jobs/{job_id}").text)
                if words and all(word in text for word in words):
                    return text
                if not words and "Job " + job_id in text and "Exit code 0" in text:
                    return text
                return ""

            try:
                text = wait_until(explained, seconds=30, every=1)
            except AssertionError:
                page = shown_words(client.get(f"{portal.url}/jobs/{job_id}").text)
                raise AssertionError(f"{name} (job {job_id}) page says: {page[:3000]}") from None
            if words:
                # Above the details, so it is the first thing read.
                assert text.index(BOX) < text.index("Details"), name
            else:
                assert BOX not in text, f"a successful job was diagnosed: {text[:2000]}"

        # The button prefills the resubmission with the suggested memory.
        page = client.get(f"{portal.url}/jobs/{failed_jobs['oom']}").text
        link = re.search(r'href="(/jobs/new\?resubmit=\d+&amp;memory_mb=1024)"', page)
        assert link is not None, "no 'Submit again with 1 GB of memory' button"
        form = client.get(portal.url + html.unescape(link.group(1))).text
        assert re.search(r'name="memory_mb" min="0" value="1024"', form), form[:2000]
        assert "The suggested memory is filled in." in shown_words(form)


def test_a_submission_no_node_can_hold_is_explained(portal: Portal) -> None:
    with signed_in(portal.url, "alice") as client:
        form = job_form(client, portal.url, "#!/bin/bash\ntrue\n", memory_mb="100000")
        answer = client.post(f"{portal.url}/jobs/new", data=form)
        text = shown_words(answer.text)
        assert answer.status_code != 303, "Slurm took a job no node can hold"
        assert "It cannot start: it asks for more than any node of its partition has" in text, text[
            :2000
        ]
        assert "Ask for fewer CPUs or less memory per node" in text


def test_the_oom_explanation_in_chromium(
    portal: Portal, failed_jobs: dict[str, str], page: Page
) -> None:
    """One screenshot of the explanation on the page, as a browser shows it."""
    sign_in(page, portal.url, "alice")
    page.goto(f"{portal.url}/jobs/{failed_jobs['oom']}")
    box = page.locator("#job-diagnosis")
    box.wait_for(timeout=60_000)
    assert "It ran out of memory" in box.inner_text()
    screenshot(page, "job-diagnosis-oom")
