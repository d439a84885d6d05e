"""Uploading in Chromium: pick files and a whole folder, drop a file, watch each
progress bar complete, and find the files in the folder with the right bytes."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Portal
from tests.files.test_transfer import ALICE, transfer_portal

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def portal(cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
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
    page: Page, portal: Portal, target: Path, tmp_path: Path
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
    page: Page, portal: Portal, target: Path
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


def _pick(page: Page, path: Path) -> None:
    page.locator("input[data-upload-picker]:not([webkitdirectory])").set_input_files(str(path))


def _whole(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def test_pieces_carry_their_crc32_and_the_last_the_files_sha256(
    page: Page, portal: Portal, target: Path, tmp_path: Path
) -> None:
    """Chromium reads and hashes with hash-wasm (so the CSP lets WebAssembly run);
    closed half-way, the page carries on from what arrived, hashing the part that
    was already sent again rather than sending it."""
    data = os.urandom(5 * MiB + 11)
    source = tmp_path / "hashed.bin"
    source.write_bytes(data)
    patches: list[dict[str, str]] = []
    page.on(
        "request",
        lambda request: patches.append(request.headers) if request.method == "PATCH" else None,
    )
    held: list[Route] = []
    passed: list[Route] = []

    def hold_the_third(route: Route) -> None:
        if route.request.method == "PATCH" and len(passed) == 2:
            held.append(route)  # the connection fails from the third piece on
            route.abort()
            return
        if route.request.method == "PATCH":
            passed.append(route)
        route.continue_()

    page.route("**/files/uploads/*", hold_the_third)
    sign_in(page, portal.url, "alice")
    page.goto(f"{portal.url}/files/upload?path={target}")
    _pick(page, source)
    for _ in range(300):  # until the third piece has failed
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the third piece never left"
    assert [int(item["upload-offset"]) for item in patches[:3]] == [0, MiB, 2 * MiB]
    for item, start in zip(patches[:3], (0, MiB, 2 * MiB), strict=True):
        piece = data[start : start + MiB]
        assert (
            item["upload-checksum"]
            == "crc32 " + base64.b64encode(zlib.crc32(piece).to_bytes(4, "big")).decode()
        )
        assert "repr-digest" not in item
    assert not (target / "hashed.bin").exists() and list(target.glob(".onestop-upload-*"))

    # Another tab of the same browser: the same file carries on at 2 MiB.
    again = page.context.new_page()
    patches.clear()
    again.on(
        "request",
        lambda request: patches.append(request.headers) if request.method == "PATCH" else None,
    )
    page.close()
    again.goto(f"{portal.url}/files/upload?path={target}")
    _pick(again, source)
    expect(again.locator('[data-upload-list] li[data-state="done"]')).to_have_count(
        1, timeout=30000
    )
    offsets = [int(item["upload-offset"]) for item in patches]
    assert offsets == [2 * MiB, 3 * MiB, 4 * MiB, 5 * MiB], offsets
    assert patches[-1]["repr-digest"] == _whole(data)
    assert (target / "hashed.bin").read_bytes() == data
    assert not list(target.glob(".onestop-upload-*"))


def test_a_file_that_arrived_different_is_not_named_and_says_so(
    page: Page, portal: Portal, target: Path, tmp_path: Path
) -> None:
    data = os.urandom(2 * MiB + 5)
    source = tmp_path / "damaged.bin"
    source.write_bytes(data)

    def spoil_the_digest(route: Route) -> None:
        headers = dict(route.request.headers)
        if "repr-digest" in headers:
            headers["repr-digest"] = _whole(b"something else")
        route.continue_(headers=headers)

    page.route("**/files/uploads/*", spoil_the_digest)
    sign_in(page, portal.url, "alice")
    page.goto(f"{portal.url}/files/upload?path={target}")
    _pick(page, source)
    failed = page.locator('[data-upload-list] li[data-state="failed"]')
    expect(failed).to_contain_text("SHA-256 checksums do not match", timeout=30000)
    screenshot(page, "files-upload-whole-mismatch")
    assert not (target / "damaged.bin").exists()
    [part] = target.glob(".onestop-upload-*")
    assert part.read_bytes() == data  # kept aside, hidden, for nothing to be lost
