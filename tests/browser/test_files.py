"""alice uses the file manager in a browser: browses, sorts, filters, makes a folder,
renames, deletes and undoes, empties nothing by mistake, edits a file and meets a
conflict, and previews a CSV, an image and a PDF. Then hostile file names are shown
everywhere and no script ever runs (``window.__pwned`` stays unset)."""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.conftest import Portal

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEklEQVR4nGP4z8DAwMDAwMDAAAANAAH/"
    "AO6w7QAAAABJRU5ErkJggg=="
)
PDF = b"""%PDF-1.4
1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj
trailer<</Root 1 0 R>>
%%EOF
"""


def make(path: Path, data: bytes | str = b"", folder: bool = False) -> Path:
    if folder:
        path.mkdir()
    else:
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chown(path, 2001, 2001)
    return path


@pytest.fixture
def tour() -> Iterator[Path]:
    folder = make(Path(f"/home/alice/tour-{uuid.uuid4().hex[:6]}"), folder=True)
    make(folder / "data", folder=True)
    make(folder / "results.csv", "sample,energy,ok\nA1,-12.5,yes\nB7,3.25,no\n")
    make(folder / "notes.txt", "Remember: run the big job on Friday.\n")
    make(folder / "plot.png", PNG)
    make(folder / "paper.pdf", PDF)
    make(folder / "big-output.log", "line\n" * 40_000)
    make(folder / ".hidden-settings", "secret=1\n")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    clean_trash(folder.name)


def clean_trash(mark: str) -> None:
    trash = Path("/home/alice/.local/share/Trash")
    for part in ("files", "info"):
        for item in (trash / part).glob("*") if (trash / part).exists() else []:
            info = trash / "info" / (item.name + ".trashinfo")
            text = (
                item.read_text() if part == "info" else (info.read_text() if info.exists() else "")
            )
            if mark in text or mark in item.name:
                shutil.rmtree(item) if item.is_dir() else item.unlink()


def open_folder(page: Page, portal: Portal, folder: Path) -> None:
    page.goto(f"{portal.url}/files?path={quote(str(folder))}")


def test_alice_manages_her_files(page: Page, portal: Portal, tour: Path) -> None:
    sign_in(page, portal.url, "alice")
    expect(page.locator("#storage-card")).to_contain_text("free on its disk")
    screenshot(page, "files-dashboard")
    page.get_by_role("link", name="Files", exact=True).click()
    expect(page.get_by_role("heading", name="Files")).to_be_visible()
    expect(page.get_by_role("link", name="Home", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_role("link", name="Project chem")).to_be_visible()

    open_folder(page, portal, tour)
    rows = page.locator("tr.file-row")
    expect(rows).to_have_count(6)  # the hidden file is not shown
    expect(rows.first).to_contain_text("data")  # folders first
    expect(page.locator("nav.crumbs")).to_contain_text(tour.name)
    expect(page.locator("#usage")).to_contain_text("free on its disk")
    screenshot(page, "files-browse")

    # Sort by size, largest first: the long log leads.
    page.get_by_role("link", name="Size").click()
    page.get_by_role("link", name="Size ▲").click()
    expect(rows.nth(1)).to_contain_text("big-output.log")
    assert "order=size" in page.url and "desc=1" in page.url
    # Filter, and show hidden files.
    page.get_by_label("Filter by name").fill("note")
    expect(rows).to_have_count(1)
    page.get_by_label("Filter by name").fill("")
    expect(rows).to_have_count(6)
    page.get_by_label("Show hidden files").check()
    expect(rows).to_have_count(7)

    # A new folder.
    page.get_by_label("Name of a new folder or file").fill("experiments")
    page.get_by_role("button", name="New folder").click()
    expect(page.get_by_role("status")).to_contain_text("New folder created: experiments")
    assert (tour / "experiments").is_dir() and (tour / "experiments").stat().st_uid == 2001
    # The same name again: she is asked.
    page.get_by_label("Name of a new folder or file").fill("experiments")
    page.get_by_role("button", name="New folder").click()
    expect(page.get_by_role("heading", name="That name is taken")).to_be_visible()
    screenshot(page, "files-conflict")
    page.get_by_role("button", name="Keep both").click()
    expect(page.get_by_role("status")).to_contain_text("experiments (2)")

    # Rename through the row's menu.
    row = page.locator("tr.file-row", has_text="notes.txt")
    row.get_by_text("Actions").click()
    row.get_by_role("link", name="Rename").click()
    page.get_by_label("New name").fill("todo.txt")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("status")).to_contain_text("Renamed to todo.txt")

    # Delete asks first; then Undo puts it back.
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row = page.locator("tr.file-row", has_text="todo.txt")
    row.get_by_text("Actions").click()
    row.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("Moved to the trash: todo.txt")
    assert asked and "todo.txt" in asked[0]
    assert not (tour / "todo.txt").exists()
    page.get_by_role("link", name="Trash", exact=True).click()
    expect(page.locator("tr.trash-row", has_text="todo.txt")).to_be_visible()
    screenshot(page, "files-trash")
    page.go_back()
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status")).to_contain_text("Put back: todo.txt")
    assert (tour / "todo.txt").exists()

    # Edit and save; then someone else changes it while she edits: a conflict.
    page.goto(f"{portal.url}/files/view?path={quote(str(tour / 'todo.txt'))}")
    page.get_by_role("button", name="Edit").click()
    page.locator("#content").fill("Run the big job on Friday.\nThen the small one.\n")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: todo.txt")
    assert (tour / "todo.txt").read_text() == "Run the big job on Friday.\nThen the small one.\n"
    page.locator("#content").fill("My version\n")
    (tour / "todo.txt").write_text("Bob's version\n")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Someone changed this file")
    assert (tour / "todo.txt").read_text() == "Bob's version\n"
    expect(page.locator("#content")).to_have_value("My version\n")
    screenshot(page, "files-edit-conflict")
    page.get_by_role("button", name="Save").click()  # hers, knowingly, over Bob's
    expect(page.get_by_role("status")).to_contain_text("Saved")
    assert (tour / "todo.txt").read_text() == "My version\n"

    # Previews: a table, an image, a PDF, the head of a large text file.
    page.goto(f"{portal.url}/files/view?path={quote(str(tour / 'results.csv'))}")
    expect(page.locator("table.csv-table th").first).to_have_text("sample")
    expect(page.locator("table.csv-table")).to_contain_text("-12.5")
    screenshot(page, "files-preview-csv")
    page.goto(f"{portal.url}/files/view?path={quote(str(tour / 'plot.png'))}")
    image = page.locator("img.preview-image")
    expect(image).to_be_visible()
    assert page.evaluate("document.querySelector('img.preview-image').naturalWidth") == 4
    page.goto(f"{portal.url}/files/view?path={quote(str(tour / 'paper.pdf'))}")
    expect(page.locator("iframe.preview-pdf")).to_be_visible()
    page.goto(f"{portal.url}/files/view?path={quote(str(tour / 'big-output.log'))}")
    expect(page.get_by_text("This is the beginning of a large file")).to_be_visible()


HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "<svg onload=window.__pwned=2>",
    '" hx-post="logout" hx-trigger="load" x="',
    "javascript:window.__pwned=3",
    'it\'s "quoted" & <b>bold<b>',
    "line\nbreak",
    "{{7*7}} {% raw %}",
]


@pytest.fixture
def hostile() -> Iterator[Path]:
    folder = make(Path(f"/home/alice/hostile-{uuid.uuid4().hex[:6]}"), folder=True)
    for name in HOSTILE:
        make(folder / name, "harmless\n")
    inner = make(folder / '<img src=x onerror="window.__pwned=9">', folder=True)
    make(inner / "evil.html", "<script>window.top.__pwned=10</script><h1>owned</h1>\n")
    make(inner / "fake.png", "<script>window.top.__pwned=11</script>\n")
    make(inner / "fake.csv", 'a,b\n"<img src=x onerror=window.__pwned=12>",2\n')
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    clean_trash(folder.name)


def not_pwned(page: Page) -> None:
    assert page.evaluate("window.__pwned") is None, page.url


def test_hostile_names_are_text_everywhere(page: Page, portal: Portal, hostile: Path) -> None:
    sign_in(page, portal.url, "alice")
    open_folder(page, portal, hostile)
    for name in HOSTILE:
        if "\n" not in name:
            expect(page.locator("td.name", has_text=name)).to_have_count(1)
    expect(page.locator("tr.file-row")).to_have_count(len(HOSTILE) + 1)
    not_pwned(page)
    assert "/files" in page.url  # the planted hx-post="logout" did nothing
    screenshot(page, "files-hostile-names")

    # Breadcrumbs, folder listing and previews inside the hostile folder.
    page.locator("td.name a", has_text="window.__pwned=9").click()
    expect(page.locator("nav.crumbs")).to_contain_text('<img src=x onerror="window.__pwned=9">')
    not_pwned(page)
    page.locator("td.name a", has_text="evil.html").click()
    expect(page.locator("pre.file-text")).to_contain_text("<script>window.top.__pwned=10</script>")
    not_pwned(page)
    page.go_back()
    page.locator("td.name a", has_text="fake.csv").click()
    expect(page.locator("table.csv-table")).to_contain_text("<img src=x")
    not_pwned(page)
    # An "image" that is really HTML: shown as a broken image, never run.
    page.go_back()
    page.locator("td.name a", has_text="fake.png").click()
    page.wait_for_load_state("load")
    not_pwned(page)

    # Dialogs: rename, the name-clash question, the delete confirmation, the trash.
    open_folder(page, portal, hostile)
    name = HOSTILE[0]
    row = page.locator("tr.file-row", has_text=name)
    row.get_by_text("Actions").click()
    row.get_by_role("link", name="Rename").click()
    expect(page.get_by_role("heading", name=f"Rename “{name}”")).to_be_visible()
    page.get_by_label("New name").fill(HOSTILE[1])
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name="That name is taken")).to_be_visible()
    expect(page.locator("article.conflict")).to_contain_text(HOSTILE[1])
    not_pwned(page)
    page.get_by_role("button", name="Cancel").click()
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row = page.locator("tr.file-row", has_text=name)
    row.get_by_text("Actions").click()
    row.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text(name)
    assert asked and name in asked[0]
    page.goto(portal.url + "/files/trash")
    expect(page.locator("tr.trash-row", has_text=name)).to_be_visible()
    not_pwned(page)
