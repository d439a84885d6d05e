"""Uploading in Chromium: pick files and a whole folder, drop a file, watch each
progress bar complete, and find the files in the folder with the right bytes."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.files.test_transfer import ALICE, Running, transfer_portal


@pytest.fixture(scope="module")
def portal(cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    # 1 MiB pieces: a 6 MiB file goes up in six checked pieces.
    with transfer_portal(
        tmp_path_factory.mktemp("upload"), ONESTOP_FILES__CHUNK_BYTES=str(1024 * 1024)
    ) as running:
        yield running


@pytest.fixture
def target() -> Iterator[Path]:
    folder = Path(f"/home/alice/upload-{uuid.uuid4().hex[:6]}")
    folder.mkdir()
    os.chown(folder, ALICE, ALICE)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_pick_a_folder_and_files_and_drop_one(
    page: Page, portal: Running, target: Path, tmp_path: Path
) -> None:
    big = tmp_path / "measurements.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024 + 3))
    notes = tmp_path / "notes.txt"
    notes.write_text("first notes\n")
    folder = tmp_path / "run-7"
    (folder / "logs").mkdir(parents=True)
    (folder / "result.csv").write_text("a,b\n1,2\n")
    (folder / "logs" / "out.log").write_text("done\n")

    sign_in(page, portal.url, "alice")
    page.goto(f"{portal.url}/files/upload?path={target}")
    expect(page.get_by_role("heading", name="Upload files")).to_be_visible()
    page.locator("input[data-upload-picker]:not([webkitdirectory])").set_input_files(
        [str(big), str(notes)]
    )
    page.locator("input[webkitdirectory]").set_input_files(str(folder))
    # A file dropped from the desktop (a DataTransfer made in the page).
    page.evaluate(
        """() => {
        const data = new DataTransfer();
        data.items.add(new File(["dropped here\\n"], "dropped.txt", {type: "text/plain"}));
        const zone = document.getElementById("upload-zone");
        zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true}));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
    }"""
    )
    rows = page.locator("[data-upload-list] li")
    expect(rows).to_have_count(5)
    expect(page.locator('[data-upload-list] li[data-state="done"]')).to_have_count(5, timeout=30000)
    expect(page.locator("[data-upload-list] progress").first).to_have_attribute("value", "100")
    screenshot(page, "files-upload-done")

    assert (target / "measurements.bin").read_bytes() == big.read_bytes()
    assert (target / "notes.txt").read_text() == "first notes\n"
    assert (target / "run-7" / "result.csv").read_text() == "a,b\n1,2\n"
    assert (target / "run-7" / "logs" / "out.log").read_text() == "done\n"
    assert (target / "dropped.txt").read_text() == "dropped here\n"
    assert (target / "measurements.bin").stat().st_uid == ALICE
    assert not list(target.glob(".onestop-upload-*"))

    # The same file again: kept both, and the row says under which name.
    page.locator("input[data-upload-picker]:not([webkitdirectory])").set_input_files(str(notes))
    expect(page.locator("[data-upload-list] li").last).to_contain_text(
        "saved as notes (1).txt", timeout=15000
    )
    assert (target / "notes (1).txt").exists()


def test_a_file_over_the_limit_is_refused_with_words(
    page: Page, portal: Running, target: Path
) -> None:
    sign_in(page, portal.url, "alice")
    page.goto(f"{portal.url}/files/upload?path={target}")
    # A file claiming 300 MB, larger than this portal's 256 MiB limit, made in the page
    # (a sparse Blob: nothing of it is ever sent).
    page.evaluate(
        """() => {
        const big = new File([new Blob([new ArrayBuffer(300 * 1000 * 1000)])], "huge.bin");
        const data = new DataTransfer();
        data.items.add(big);
        const zone = document.getElementById("upload-zone");
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
    }"""
    )
    failed = page.locator('[data-upload-list] li[data-state="failed"]')
    expect(failed).to_contain_text("the portal takes files of up to 256 MB")
    screenshot(page, "files-upload-too-large")
    assert list(target.iterdir()) == []
