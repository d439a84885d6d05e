"""Job history on the real cluster: alice's jobs as accounting remembers them, through
the verb and the page, with the right states, numbers and hints; nobody else's."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.verbs import VerbDenied, VerbInvalid
from managers.scheduler import JobState, JobUsage
from tests.conftest import Portal
from tests.helpers import new_client, sign_in, submit_as, wait_until
from tests.verbs.conftest import Harness

# Holds 2 CPUs and asks for an hour, keeps one CPU busy for 40 seconds (the memory
# sampler runs every 30) while holding about 150 MB.
WIDE = (
    'python3 -c \'import time; x = b"x" * (150 << 20); t = time.time()\n'
    "while time.time() - t < 40: pass'"
)


@dataclass
class Jobs:
    tag: str
    wide: str
    quick: str
    failing: str


def accounting_states(ids: list[str]) -> dict[str, str]:
    out = subprocess.run(
        [
            "sacct",
            "--noheader",
            "--parsable2",
            "--allocations",
            "--format=JobID,State",
            "-j",
            ",".join(ids),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)


@pytest.fixture(scope="module")
def jobs(cluster: None) -> Iterator[Jobs]:
    """Three jobs of alice's, finished and in accounting (submitted once per module)."""
    tag = f"hist{uuid.uuid4().hex[:6]}"
    made = Jobs(
        tag=tag,
        wide=submit_as("alice", f"--job-name={tag}-wide", "--time=60", "-c", "2", "--wrap", WIDE),
        quick=submit_as("alice", f"--job-name={tag}-quick", "--time=2", "--wrap", "true"),
        failing=submit_as("alice", f"--job-name={tag}-fail", "--time=60", "--wrap", "exit 3"),
    )
    ids = [made.wide, made.quick, made.failing]

    def finished() -> bool:
        states = accounting_states(ids)
        return len(states) == 3 and not any(
            s.startswith(("PENDING", "RUNNING", "COMPLETING")) for s in states.values()
        )

    try:
        wait_until(finished, 240, 1)
        yield made
    finally:
        subprocess.run(["scancel", *ids], check=False)


def by_id(found: list[JobUsage]) -> dict[str, JobUsage]:
    return {usage.job.job_id: usage for usage in found}


async def test_alice_sees_her_jobs_with_states_numbers_and_hints(
    harness: Harness, jobs: Jobs
) -> None:
    from wrappers.jobs.efficiency import efficiency

    view = await harness.gate.call(harness.person("alice"), "jobs.history", name=jobs.tag)
    found = by_id(view.jobs)
    assert set(found) == {jobs.wide, jobs.quick, jobs.failing}
    assert view.user == "alice"
    wide, quick, failing = found[jobs.wide], found[jobs.quick], found[jobs.failing]
    assert (wide.job.state, wide.job.cpus, wide.job.time_limit_minutes) == (
        JobState.COMPLETED,
        2,
        60,
    )
    assert 38 <= wide.elapsed_seconds <= 60
    shown = efficiency(wide)
    assert shown.cpu_percent is not None and 35 <= shown.cpu_percent <= 55, shown
    assert wide.memory_peak_kb is not None and wide.memory_peak_kb >= 140 * 1024
    assert any(h.startswith("You asked for 1 hour and used 4") for h in shown.hints), shown
    assert any(h.startswith("It kept about 1 of the 2 CPUs") for h in shown.hints), shown
    # A two-minute request used for a moment: nothing worth saying.
    assert quick.job.state is JobState.COMPLETED and efficiency(quick).hints == []
    # A failed job: its exit code, and no advice (it stopped for another reason).
    assert (failing.job.state, failing.job.exit_code) == (JobState.FAILED, 3)
    assert efficiency(failing).hints == []
    # Newest submission first.
    assert [u.job.job_id for u in view.jobs] == sorted(found, key=int, reverse=True)


async def test_filters(harness: Harness, jobs: Jobs) -> None:
    alice = harness.person("alice")
    failed = await harness.gate.call(alice, "jobs.history", name=jobs.tag, states=["failed"])
    assert [u.job.job_id for u in failed.jobs] == [jobs.failing]
    named = await harness.gate.call(alice, "jobs.history", name=f"{jobs.tag}-QUICK")
    assert [u.job.job_id for u in named.jobs] == [jobs.quick]
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    later = await harness.gate.call(
        alice, "jobs.history", name=jobs.tag, since=tomorrow, until=tomorrow
    )
    assert later.jobs == []
    with pytest.raises(VerbInvalid) as refused:
        await harness.gate.call(
            alice, "jobs.history", since=tomorrow, until=tomorrow - timedelta(days=2)
        )
    assert "before the start date" in refused.value.fields["until"]


async def test_nobody_else_sees_alices_history(harness: Harness, jobs: Jobs) -> None:
    bobs = await harness.gate.call(harness.person("bob"), "jobs.history")
    assert all(usage.job.user == "bob" for usage in bobs.jobs)
    assert not {jobs.wide, jobs.quick, jobs.failing} & set(by_id(bobs.jobs))
    with pytest.raises(VerbDenied):
        await harness.gate.call(harness.person("bob"), "jobs.history", user="alice")
    assert ("bob", "job:alice/history", "denied") in await harness.audit("jobs.history")
    # The help desk may look (staff read every job).
    seen = await harness.gate.call(harness.person("carol"), "jobs.history", user="alice")
    assert jobs.failing in by_id(seen.jobs)


def test_the_page_shows_them_and_explains_bad_filters(portal: Portal, jobs: Jobs) -> None:
    with new_client() as alice:
        sign_in(alice, portal.url, "alice")
        assert 'href="/jobs/history"' in alice.get(portal.url + "/jobs").text
        page = alice.get(portal.url + "/jobs/history", params={"name": jobs.tag})
        assert page.status_code == 200, page.text[-2000:]
        for job in (jobs.wide, jobs.quick, jobs.failing):
            assert f'<a href="/jobs/{job}">{job}</a>' in page.text
        assert "exit code 3" in page.text
        assert "You asked for 1 hour and used 4" in page.text
        assert f'data-job="{jobs.failing}" data-state="failed"' in page.text
        only_failed = alice.get(
            portal.url + "/jobs/history", params={"name": jobs.tag, "state": "failed"}
        )
        assert f"/jobs/{jobs.failing}" in only_failed.text
        assert f"/jobs/{jobs.quick}" not in only_failed.text
        fuzzy = alice.get(portal.url + "/jobs/history", params={"since": "yesterday-ish"})
        assert fuzzy.status_code == 400
        assert "is not a date" in fuzzy.text and "Traceback" not in fuzzy.text
        backwards = alice.get(
            portal.url + "/jobs/history", params={"since": "2026-01-10", "until": "2026-01-01"}
        )
        assert backwards.status_code == 400 and "before the" in backwards.text
        usage = alice.get(portal.url + f"/jobs/history/{jobs.wide}").text
        assert "What it used" in usage and "It kept about 1 of the 2 CPUs" in usage
        assert alice.get(portal.url + "/jobs/history/999999").text == ""
        snooping = alice.get(portal.url + "/jobs/history", params={"user": "bob"})
        assert snooping.status_code == 403 and "not allowed" in snooping.text
