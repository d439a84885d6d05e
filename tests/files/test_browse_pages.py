"""The file manager's pages over HTTP: preview bytes come with headers that keep them
from ever being a page of the portal, a big folder opens one page at a time, and path
attacks in addresses reach nothing of alice's for bob."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Portal
from tests.helpers import signed_in

# 100,000 entries are paged by tests/verbs/test_files_manage.py and timed by
# loadtests/bench_folder.py; here the page, its count and its cursor over HTTP.
ENTRIES = 5_000


def as_alice(path: Path, data: str = "", folder: bool = False) -> Path:
    if folder:
        path.mkdir()
    else:
        path.write_text(data)
    os.chown(path, 2001, 2001)
    return path


@pytest.fixture
def folder() -> Iterator[Path]:
    made = as_alice(Path(f"/home/alice/pages-{uuid.uuid4().hex[:6]}"), folder=True)
    yield made
    shutil.rmtree(made, ignore_errors=True)


def test_previews_are_never_pages_of_the_portal(portal: Portal, folder: Path) -> None:
    as_alice(folder / "fake.png", "<script>alert(1)</script>")
    as_alice(folder / "page.html", "<script>alert(1)</script>")
    with signed_in(portal.url, "alice") as client:
        raw = client.get(f"{portal.url}/files/raw", params={"path": f"{folder}/fake.png"})
        assert raw.status_code == 200 and raw.headers["content-type"] == "image/png"
        assert raw.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in raw.headers["content-security-policy"]
        assert raw.headers["content-disposition"].startswith("inline")
        # Only images and PDFs are served for previews; HTML never is.
        html = client.get(f"{portal.url}/files/raw", params={"path": f"{folder}/page.html"})
        assert html.status_code == 404 and "alert" not in html.text
        view = client.get(f"{portal.url}/files/view", params={"path": f"{folder}/page.html"})
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in view.text
        assert "<script>alert(1)" not in view.text
        # Changing things needs the page's CSRF token.
        forged = client.post(f"{portal.url}/files/new", data={"folder": str(folder), "name": "x"})
        assert forged.status_code == 403 and not (folder / "x").exists()


def test_a_big_folder_opens_at_once_and_pages_on(portal: Portal, folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        for number in range(ENTRIES):
            os.close(os.open(f"e{number:06d}", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=descriptor))
    finally:
        os.close(descriptor)
    with signed_in(portal.url, "alice") as client:
        client.get(f"{portal.url}/files", params={"path": "/home/alice"})  # her agent is up
        page = client.get(f"{portal.url}/files", params={"path": str(folder)})
        assert page.status_code == 200 and f"{ENTRIES:,} items" in page.text
        assert page.text.count('class="file-row"') == 200, "one page, not the whole folder"
        more = page.text.split('id="more-rows" hx-get="', 1)[1].split('"', 1)[0]
        rows = client.get(portal.url + more.replace("&amp;", "&"), headers={"hx-request": "true"})
        assert "e000200" in rows.text and "e000199" not in rows.text


ATTACKS = [
    "/home/alice",
    "/home/bob/../alice",
    "/home/bob/%2e%2e/alice",
    "/home/bob/%252e%252e/alice",
    "//home//alice",
    "/home/bob/link-alice",
    "/home/bob/link-alice/fm-web-secret.png",
    "/home/alice/fm-web-secret.png",
    "/home/bob/\uff0e\uff0e/alice",
    "/home/alice/fm-web-secret.png\x00.txt",
    "/home\\alice",
]


def test_path_attacks_in_addresses_reach_nothing(portal: Portal) -> None:
    secret = as_alice(Path("/home/alice/fm-web-secret.png"), "alice only")
    os.chmod(secret, 0o600)
    link = Path("/home/bob/link-alice")
    link.unlink(missing_ok=True)
    link.symlink_to("/home/alice")
    os.lchown(link, 2002, 2002)
    try:
        with signed_in(portal.url, "bob") as client:
            for attack in ATTACKS:
                for address in (
                    "/files",
                    "/files/view",
                    "/files/raw",
                    "/files/edit",
                    "/files/rename",
                ):
                    answer = client.get(portal.url + address, params={"path": attack})
                    # The rename form needs only what `ls -ld` shows anyone: a name.
                    shown = 200 if address == "/files/rename" else 404
                    assert answer.status_code in (shown, 303, 400, 403, 404), (address, attack)
                    # Neither her file's content nor a listing of her folder.
                    assert "alice only" not in answer.text, (address, attack)
                    assert 'class="file-row"' not in answer.text, (address, attack)
                    assert "Traceback" not in answer.text
    finally:
        secret.unlink()
        link.unlink()
