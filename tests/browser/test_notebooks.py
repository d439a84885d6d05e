"""alice works in a Jupyter notebook from her browser: she starts a session from the
form, watches it become ready without reloading, connects (JupyterLab opens on the
session's own origin), runs ``2 + 2`` (the kernel's WebSocket goes through the
portal's proxy), saves, finds the notebook in the file manager, opens it from there,
and stops the session."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import TEST_PORT, Portal, portal_with_own_agents
from tests.helpers import wait_until
from tests.notebook_origin import nb_origin
from tests.notebooks.conftest import end_session


@pytest.fixture(scope="module")
def notebook_portal(
    cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    """A portal with agents of its own, so they run the code under test."""
    with portal_with_own_agents(
        tmp_path_factory.mktemp("notebook-portal"), TEST_PORT + 10
    ) as portal:
        yield portal


@pytest.fixture
def workfolder() -> Iterator[Path]:
    """A fresh folder of alice's for the session to start in."""
    alice = pwd.getpwnam("alice")
    folder = Path(alice.pw_dir) / f"e2e-notebook-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    os.chown(folder, alice.pw_uid, alice.pw_gid)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def saved_output(path: Path) -> str | None:
    """The first cell's result as saved in the notebook file, if it is there yet."""
    try:
        cells = json.loads(path.read_text())["cells"]
        return "".join(cells[0]["outputs"][0]["data"]["text/plain"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def test_alice_runs_a_notebook_cell_through_the_portal(
    page: Page, notebook_portal: Portal, workfolder: Path
) -> None:
    url = notebook_portal.url
    sign_in(page, url, "alice")
    page.get_by_role("link", name="Notebooks").first.click()
    expect(page.get_by_role("heading", name="Start a new session")).to_be_visible()
    screenshot(page, "notebooks-form")

    page.get_by_label("Label").fill("Two plus two")
    page.get_by_label("Folder to start in").fill(str(workfolder))
    page.get_by_role("button", name="Start notebook").click()
    expect(page.get_by_role("heading", name="Two plus two")).to_be_visible()
    session_id = page.url.rsplit("/", 1)[-1]
    try:
        work_in_the_session(page, url, session_id, workfolder)
    finally:
        end_session(session_id)


def work_in_the_session(page: Page, url: str, session_id: str, workfolder: Path) -> None:
    """From "ready" to a saved notebook, the file manager, the dashboard and Stop."""
    status = page.locator(f"#notebook-session-{session_id}")
    # No reload: the live connection brings "ready" and the Connect button.
    expect(status).to_have_attribute("data-state", "ready", timeout=120_000)
    connect = status.locator("a.connect")
    expect(connect).to_have_attribute("href", f"/notebooks/sessions/{session_id}/connect")
    expect(status).to_contain_text("left")
    screenshot(page, "notebooks-session")
    job_id = re.findall(r"/jobs/(\d+)", status.inner_html())[0]
    with page.context.expect_page() as opened:
        connect.click()
    lab = opened.value
    lab.wait_for_load_state()
    # JupyterLab, on the session's own origin (never the portal's).
    origin = nb_origin(url, session_id)
    assert lab.url.startswith(f"{origin}/notebooks/{session_id}/lab"), lab.url
    # JupyterLab reopens what her last session had open (its workspace lives in her
    # home); "reset" starts from the launcher, as on a first visit.
    lab.goto(f"{origin}/notebooks/{session_id}/lab/tree/{workfolder.name}?reset")
    lab.locator('.jp-LauncherCard[data-category="Notebook"]').first.click(timeout=90_000)
    # The kernel is reached over its WebSocket, through the proxy.
    expect(lab.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=90_000)
    editor = lab.locator(".jp-Notebook .jp-Cell .cm-content").first
    editor.click()
    lab.keyboard.type("2 + 2")
    expect(editor).to_have_text("2 + 2")
    lab.keyboard.press("Shift+Enter")
    expect(lab.locator(".jp-OutputArea-output").first).to_have_text("4", timeout=60_000)
    screenshot(lab, "notebooks-jupyterlab")
    lab.keyboard.press("Control+s")
    # JupyterLab may ask for a name the first time an untitled notebook is saved.
    name = "Untitled.ipynb"
    rename = lab.get_by_role("dialog")
    with contextlib.suppress(PlaywrightTimeout):
        rename.wait_for(timeout=3_000)
        name = "two-plus-two.ipynb"
        rename.get_by_role("textbox", name="File name").fill(name)
        rename.get_by_role("button", name="Rename").click()
    saved = workfolder / name
    wait_until(lambda: saved_output(saved) == "4", 30, 0.3)  # saved with the result
    assert saved.stat().st_uid == pwd.getpwnam("alice").pw_uid, "saved as alice"
    lab.close()

    # The file manager shows it; clicking it opens it in her running session.
    page.goto(f"{url}/files?path={workfolder}")
    link = page.get_by_role("link", name=name)
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", re.compile(r"^/notebooks/open\?path="))
    link.click()
    page.wait_for_url(
        re.compile(
            rf"^{re.escape(origin)}/notebooks/{session_id}/lab/tree/{workfolder.name}/{name}"
        ),
        timeout=30_000,
    )

    page.goto(f"{url}/")
    card = page.locator("#notebooks-card")
    expect(card).to_contain_text("Two plus two")
    expect(card.locator("a.connect")).to_have_attribute(
        "href", f"/notebooks/sessions/{session_id}/connect"
    )
    screenshot(page, "notebooks-dashboard")

    page.goto(f"{url}/notebooks")
    session = page.locator(f'#notebook-sessions [data-session="{session_id}"]')
    expect(session).to_have_attribute("data-state", "ready")
    screenshot(page, "notebooks")
    page.once("dialog", lambda dialog: dialog.accept())
    session.get_by_role("button", name="Stop").click()
    expect(session).to_have_attribute("data-state", "ended", timeout=30_000)
    expect(session).to_contain_text("stopped")
    state = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--format=%T", "--jobs", job_id],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    assert state in ("CANCELLED", "COMPLETING", ""), state
