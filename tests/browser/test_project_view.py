"""With ``project_job_view`` on, bob (chem) follows alice's chem job but cannot stop it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import TEST_PORT, Portal, running_portal
from tests.helpers import submit_as


@pytest.fixture(scope="module")
def project_portal(
    cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    workdir = tmp_path_factory.mktemp("project-portal")
    with running_portal(workdir, TEST_PORT + 10, ONESTOP_PROJECT_JOB_VIEW="true") as portal:
        yield portal


def queue_state(job: str) -> str:
    return subprocess.run(
        ["squeue", "--noheader", "--format=%T", "--jobs", job],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def post_from_page(page: Page, url: str) -> int:
    status: int = page.evaluate(
        """async ([url]) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const answer = await fetch(url, {method: "POST", headers: {"X-CSRF-Token": token}});
            return answer.status;
        }""",
        [url],
    )
    return status


def test_bob_follows_alices_project_job_without_controls(
    page: Page, project_portal: Portal
) -> None:
    job = submit_as("alice", "--job-name=shared-run", "--wrap", "sleep 300")
    try:
        sign_in(page, project_portal.url, "bob")
        page.goto(project_portal.url + "/jobs")
        section = page.locator("#project-jobs-chem")
        expect(section.locator(f'tr[data-job="{job}"]')).to_contain_text("alice")
        screenshot(page, "jobs-project-view")

        page.goto(f"{project_portal.url}/jobs/{job}")
        expect(page.get_by_role("heading", name=f"Job {job}")).to_be_visible()
        expect(page.locator(f"#job-details-{job}")).to_contain_text("project chem")
        expect(page.get_by_role("button", name="Cancel this job")).to_have_count(0)
        assert post_from_page(page, f"{project_portal.url}/jobs/{job}/cancel") == 403
        assert post_from_page(page, f"{project_portal.url}/jobs/{job}/hold") == 403
        assert queue_state(job) in ("PENDING", "RUNNING")

        # alice stops it herself: bob's open page follows, live.
        subprocess.run(["runuser", "-u", "alice", "--", "scancel", job], check=True)
        expect(page.locator(f"#job-status-{job}")).to_have_attribute(
            "data-state", "cancelled", timeout=15_000
        )
        expect(page.get_by_role("button", name="Cancel this job")).to_have_count(0)
    finally:
        subprocess.run(["scancel", job], check=False)


def test_carol_of_physics_sees_nothing_of_chem(page: Page, project_portal: Portal) -> None:
    job = submit_as("alice", "--wrap", "sleep 120")
    try:
        sign_in(page, project_portal.url, "carol")
        page.goto(project_portal.url + "/jobs")
        expect(page.get_by_role("heading", name="Your jobs")).to_be_visible()
        assert job not in page.locator("main").inner_text()
        page.goto(f"{project_portal.url}/jobs/{job}")
        expect(page.get_by_role("heading", name="No such job of yours")).to_be_visible()
    finally:
        subprocess.run(["scancel", job], check=False)
