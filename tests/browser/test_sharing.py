"""Sharing in Chromium: alice shares a folder with bob and makes a public link; bob
finds it under "Shared with me"; names that are HTML stay text (no script runs)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Portal

ALICE = 2001
XSS_NAME = "<img src=x onerror=alert(1)>.txt"


@pytest.fixture
def project() -> Iterator[Path]:
    top = Path("/home/alice/thesis")
    shutil.rmtree(top, ignore_errors=True)
    (top / "results").mkdir(parents=True)
    (top / "results/run1.csv").write_text("t,energy\n0,1.5\n")
    (top / XSS_NAME).write_text("x")
    for root, folders, files in os.walk(top):
        os.chown(root, ALICE, ALICE)
        os.chmod(root, 0o700)
        for name in folders + files:
            os.lchown(os.path.join(root, name), ALICE, ALICE)
            if name in files:
                os.chmod(os.path.join(root, name), 0o600)
    yield top
    shutil.rmtree(top, ignore_errors=True)
    # What a share left behind if the test stopped half-way; the demo home starts with
    # no ACL at all, and ``-x`` alone would leave a mask entry (not the state before).
    subprocess.run(["setfacl", "-b", "/home/alice"], check=False, capture_output=True)


def dialogs(page: Page) -> list[str]:
    """Confirm questions are answered yes; any other dialog (an alert from an
    injected script) is recorded."""
    seen: list[str] = []

    def answer(dialog: Dialog) -> None:
        seen.append(f"{dialog.type}: {dialog.message}")
        dialog.accept()

    page.on("dialog", answer)
    return seen


def test_share_a_folder_with_bob(portal: Portal, page: Page, project: Path) -> None:
    seen = dialogs(page)
    sign_in(page, portal.url, "alice")
    page.goto(f"{portal.url}/files/permissions?path={project}")
    expect(page.get_by_role("heading", name="Who can see “thesis”")).to_be_visible()
    expect(page.get_by_text("Everyone else on the cluster")).to_be_visible()
    screenshot(page, "files-permissions")

    page.goto(f"{portal.url}/files/share?path={project}")
    page.get_by_role("textbox", name="Cluster account name").fill("bob")
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Shared with bob (read only)")
    screenshot(page, "files-share")
    assert (
        "user:bob:r-x"
        in subprocess.run(
            ["getfacl", "-p", str(project)], capture_output=True, text=True, check=True
        ).stdout
    )

    page.goto(f"{portal.url}/files/publish?path={project}/results/run1.csv")
    page.get_by_role("button", name="Make the link").click()
    address = page.get_by_label("The public link").input_value()
    assert re.search(r"/p/[A-Za-z0-9_-]{40,}$", address)
    screenshot(page, "files-published")

    page.goto(f"{portal.url}/files/shared")
    expect(page.get_by_role("heading", name="Shared by me")).to_be_visible()
    screenshot(page, "files-shared-by-me")

    # The public page, in a browser that never signed in.
    stranger = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        public = stranger.new_page()
        public.goto(address)
        expect(public.get_by_role("button", name="Download run1.csv")).to_be_visible()
        screenshot(public, "files-public-link")
    finally:
        stranger.close()

    # A file named like a script is shown as text, and nothing runs.
    page.goto(f"{portal.url}/files/share?" + urlencode({"path": f"{project}/{XSS_NAME}"}))
    expect(page.get_by_role("heading", name=f"Share “{XSS_NAME}”")).to_be_visible()
    page.goto(f"{portal.url}/files/permissions?" + urlencode({"path": f"{project}/{XSS_NAME}"}))
    expect(page.get_by_role("heading", name=f"Who can see “{XSS_NAME}”")).to_be_visible()
    assert not any(item.startswith("alert") for item in seen), seen

    # Stop sharing: confirmed, then gone from the list and from the filesystem.
    page.goto(f"{portal.url}/files/shared")
    page.get_by_role("button", name="Stop sharing").click()
    expect(page.get_by_role("status")).to_contain_text("Stopped sharing")
    assert any(item.startswith("confirm") for item in seen), seen
    assert (
        "bob"
        not in subprocess.run(
            ["getfacl", "-p", str(project), "/home/alice"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_bob_sees_what_was_shared_with_him(portal: Portal, page: Page, project: Path) -> None:
    sign_in(page, portal.url, "alice")
    page.goto(f"{portal.url}/files/share?path={project}/results")
    page.get_by_label("Everyone in my project group chem").check()
    page.get_by_label("Read and change").check()
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Shared with the group chem")
    page.context.clear_cookies()
    sign_in(page, portal.url, "bob")
    page.goto(f"{portal.url}/files/shared")
    expect(page.get_by_role("link", name=f"{project}/results")).to_be_visible()
    screenshot(page, "files-shared-with-me")
    assert subprocess.run(
        ["runuser", "-u", "bob", "--", "cat", f"{project}/results/run1.csv"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.startswith("t,energy")
