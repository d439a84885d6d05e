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

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import TEST_PORT, Portal, portal_with_own_agents
from tests.helpers import inotify_watches, wait_until


@pytest.fixture(scope="module")
def live_portal(
    cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    with portal_with_own_agents(tmp_path_factory.mktemp("live"), TEST_PORT + 10) as portal:
        yield portal


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
    wait_until(lambda: inotify_watches(folder), 15, 0.05)  # her agent watches it now
    as_alice("sh", "-c", f"echo 'energy -12.5' > {folder}/job-output.txt")
    expect(page.get_by_role("link", name="job-output.txt")).to_be_visible(timeout=5000)
    expect(rows).to_have_count(2)
    # A burst (a job writing many files) ends in one listing with all of them.
    as_alice("sh", "-c", f"for i in 1 2 3 4 5; do touch {folder}/step-$i.dat; done")
    expect(rows).to_have_count(7, timeout=5000)
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "files-live-folder")


def test_a_reader_who_scrolled_on_keeps_her_rows_and_her_place(
    page: Page, live_portal: Portal, folder: Path
) -> None:
    """450 files: she scrolls through three pages and stops at file-0300; a new file
    sorted at the top and a changed file redraw the listing without taking her back
    to the first page or moving the row she was reading."""
    as_alice(
        "sh",
        "-c",
        f"cd {folder} && rm first.txt && for i in $(seq -w 1 450); do : > file-0$i.txt; done",
    )
    page.set_viewport_size({"width": 1200, "height": 700})
    sign_in(page, live_portal.url, "alice")
    page.goto(f"{live_portal.url}/files?path={quote(str(folder))}&order=name")
    rows = page.locator("#rows tr.file-row")
    expect(rows).to_have_count(200)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    for count in (400, 450):  # scrolling to the end loads the next page
        page.locator("#more-rows").scroll_into_view_if_needed()
        expect(rows).to_have_count(count)
    reading = page.locator(f'#rows tr[data-path="{folder}/file-0300.txt"]')
    reading.evaluate(
        "row => window.scrollTo(0, row.getBoundingClientRect().top + window.scrollY - 100)"
    )
    page.evaluate("window.__notReloaded = true")
    before = reading.evaluate("row => row.getBoundingClientRect().top")
    # Each scroll made the page ask again to follow the folder, now with all its rows;
    # that follow's watch replaces the first one, and neither the page nor /proc tells
    # the two apart, so this waits out the swap before looking for a watch.
    time.sleep(1.0)
    wait_until(lambda: inotify_watches(folder), 15, 0.05)
    as_alice("sh", "-c", f"echo hello > {folder}/aaa-new.txt; echo 12345 > {folder}/file-0299.txt")
    # The redraw is the whole listing of 451 rows (a fragment of about 350 KB); from
    # the change to the row on the page took 6.8 s here on two shared cores, where the
    # 5 s this waited before ran out. Not yet known which part is slow (issue noted).
    expect(page.get_by_role("link", name="aaa-new.txt")).to_be_attached(timeout=20000)
    # As many rows as she had loaded (the last one moved on to the next page).
    expect(rows).to_have_count(450)
    expect(rows.first).to_have_attribute("data-path", f"{folder}/aaa-new.txt")
    changed = page.locator(f'#rows tr[data-path="{folder}/file-0299.txt"] td.size')
    expect(changed).to_have_text("6 bytes")
    after = reading.evaluate("row => row.getBoundingClientRect().top")
    assert abs(after - before) <= 2, (before, after)
    assert page.evaluate("window.__notReloaded") is True
    # Scrolling on loads the rest, each row once.
    page.locator("#more-rows").scroll_into_view_if_needed()
    expect(rows).to_have_count(451)
    expect(page.locator(f'#rows tr[data-path="{folder}/file-0450.txt"]')).to_have_count(1)
