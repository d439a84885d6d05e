"""alice has a folder open; a file appears in it from outside the browser (as her, the
way another tab or a job would write it) and its row shows up without a reload.

The portal here is the module's own, with agents in a runtime folder of its own, so
that agents started by other runs (older code) are never asked. It listens on the
second test port (TEST_PORT + 10), beside the session's portal.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.agents.conftest import stop_agents
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import TEST_PORT, Portal, running_portal


@pytest.fixture(scope="module")
def live_portal(
    cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    base = Path("/run/onestop-test") / f"live-{uuid.uuid4().hex[:8]}"
    runtime = base / "agents"
    try:
        with running_portal(
            tmp_path_factory.mktemp("live"),
            TEST_PORT + 10,
            ONESTOP_AGENTS__RUNTIME_DIR=str(runtime),
            ONESTOP_AGENTS__LOG_DIR=str(base / "logs"),
        ) as portal:
            yield portal
    finally:
        stop_agents(runtime)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(f"/home/alice/live-{uuid.uuid4().hex[:6]}")
    subprocess.run(["runuser", "-u", "alice", "--", "mkdir", str(path)], check=True)
    subprocess.run(["runuser", "-u", "alice", "--", "touch", str(path / "first.txt")], check=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_alice(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "alice", "--", *argv], check=True)


def test_a_new_file_appears_without_a_reload(page: Page, live_portal: Portal, folder: Path) -> None:
    sign_in(page, live_portal.url, "alice")
    page.goto(f"{live_portal.url}/files?path={quote(str(folder))}&order=name")
    rows = page.locator("#rows tr.file-row")
    expect(rows).to_have_count(1)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.evaluate("window.__notReloaded = true")
    time.sleep(1.0)  # the watch is set up in her agent
    as_alice("sh", "-c", f"echo 'energy -12.5' > {folder}/job-output.txt")
    expect(page.get_by_role("link", name="job-output.txt")).to_be_visible(timeout=5000)
    expect(rows).to_have_count(2)
    # A burst (a job writing many files) ends in one listing with all of them.
    as_alice("sh", "-c", f"for i in 1 2 3 4 5; do touch {folder}/step-$i.dat; done")
    expect(rows).to_have_count(7, timeout=5000)
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "files-live-folder")
