"""Public links through a real portal: no sign-in to download, a clean page for a
wrong, expired or revoked link, passwords, only a hash in the database, and no way
out of a published folder (``..``, symlinks). The file is opened through the gate by
the files tool's service principal for the link's owner: audited as both, and refused
once an administrator removed that principal's rule."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import TEST_PORT, Portal, running_portal
from tests.helpers import new_client, signed_in, wait_until

ALICE = 2001
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"/p/([A-Za-z0-9_-]{40,})")
XSS_NAME = '<img src=x onerror="alert(1)">.txt'

PART_NAME = f".onestop-upload-{'0' * 32}.part"
SERVICE = "service:public-links"


@pytest.fixture
def published() -> Iterator[Path]:
    top = Path("/home/alice/pub-t")
    shutil.rmtree(top, ignore_errors=True)
    (top / "folder/sub").mkdir(parents=True)
    (top / "report.txt").write_text("the report")
    (top / "folder/sub/data.csv").write_text("a,b\n1,2\n")
    (top / "folder" / XSS_NAME).write_text("x")
    (top / "private.txt").write_text("private")
    (top / "folder/escape").symlink_to("/etc/hostname")
    (top / "folder/private-link").symlink_to(top / "private.txt")
    (top / "folder" / PART_NAME).write_text("half an upload")
    for root, folders, files in os.walk(top):
        os.chown(root, ALICE, ALICE)
        for name in folders + files:
            os.lchown(os.path.join(root, name), ALICE, ALICE)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def csrf_of(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, page.text[:500]
    return match.group(1)


def publish(client: httpx.Client, portal: Portal, path: Path, **form: str) -> str:
    page = client.get(f"{portal.url}/files/publish", params={"path": str(path)})
    assert page.status_code == 200, page.text[:300]
    done = client.post(
        f"{portal.url}/files/publish",
        data={"csrf_token": csrf_of(page), "path": str(path), "days": "7", **form},
    )
    assert done.status_code == 200, done.text[:500]
    match = LINK.search(done.text)
    assert match, done.text
    return match.group(1)


def links(portal: Portal) -> list[tuple[int, str, str]]:
    database = portal.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        return db.execute("SELECT id, token_hash, password_hash FROM public_links").fetchall()


def audited(portal: Portal, action: str) -> list[tuple[str, str, str, dict[str, object]]]:
    """(actor, object, outcome, detail) of the audit rows for ``action``."""
    database = portal.database_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(database)) as db:
        found = db.execute(
            "SELECT actor, object, outcome, detail FROM audit_events WHERE action = ?", (action,)
        ).fetchall()
    return [
        (actor, obj, outcome, json.loads(detail or "{}")) for actor, obj, outcome, detail in found
    ]


def test_a_file_link_downloads_without_sign_in(portal: Portal, published: Path) -> None:
    with signed_in(portal.url, "alice") as alice:
        secret = publish(alice, portal, published / "report.txt")
    with new_client() as stranger:
        page = stranger.get(f"{portal.url}/p/{secret}")
        assert page.status_code == 200 and "Download report.txt" in page.text
        got = stranger.get(f"{portal.url}/p/{secret}/download")
        assert got.status_code == 200 and got.content == b"the report"
        assert "attachment" in got.headers["content-disposition"]
        # A wrong secret: the same clean page, no hint which links exist.
        wrong = stranger.get(f"{portal.url}/p/{'x' * 43}")
        assert wrong.status_code == 404 and "not available" in wrong.text
        assert "Traceback" not in wrong.text
    # Only the secret's SHA-256 is stored.
    stored = {row[1] for row in links(portal)}
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    database = Path(portal.database_url.removeprefix("sqlite:///")).read_bytes()
    assert secret.encode() not in database


def test_a_public_download_resumes_with_range(portal: Portal, published: Path) -> None:
    """The same Range, If-Range and HEAD rules as the signed-in download (wrappers/files/downloads.py)."""
    data = bytes(range(256)) * 4096 + b"tail"
    target = published / "big.bin"
    target.write_bytes(data)
    os.chown(target, ALICE, ALICE)
    with signed_in(portal.url, "alice") as alice:
        secret = publish(alice, portal, target)
    url = f"{portal.url}/p/{secret}/download"
    with new_client() as stranger:
        head = stranger.head(url)
        assert head.status_code == 200 and head.headers["accept-ranges"] == "bytes"
        assert head.headers["content-length"] == str(len(data)) and not head.content
        etag = head.headers["etag"]
        first = stranger.get(url, headers={"Range": "bytes=0-99999"})
        assert first.status_code == 206 and first.content == data[:100000]
        rest = stranger.get(url, headers={"Range": "bytes=100000-", "If-Range": etag})
        assert rest.status_code == 206
        assert rest.headers["content-range"] == f"bytes 100000-{len(data) - 1}/{len(data)}"
        assert first.content + rest.content == data
        assert stranger.get(url, headers={"Range": "bytes=-4"}).content == b"tail"
        # Another version named in If-Range: the whole file, not a piece of the new one.
        whole = stranger.get(url, headers={"Range": "bytes=5-", "If-Range": '"old"'})
        assert whole.status_code == 200 and whole.content == data
        bad = stranger.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert bad.status_code == 416
        assert bad.headers["content-range"] == f"bytes */{len(data)}"


def test_revoked_and_expired_links_stop_working(portal: Portal, published: Path) -> None:
    with signed_in(portal.url, "alice") as alice:
        secret = publish(alice, portal, published / "report.txt")
        link_id = next(
            r[0] for r in links(portal) if r[1] == hashlib.sha256(secret.encode()).hexdigest()
        )
        shared = alice.get(f"{portal.url}/files/shared")
        assert "report.txt" in shared.text and "Stop the link" in shared.text
        alice.post(
            f"{portal.url}/files/links/{link_id}/revoke", data={"csrf_token": csrf_of(shared)}
        )
        second = publish(alice, portal, published / "report.txt")
    with new_client() as stranger:
        gone = stranger.get(f"{portal.url}/p/{secret}/download")
        assert gone.status_code == 404 and "not available" in gone.text
        assert stranger.get(f"{portal.url}/p/{second}/download").content == b"the report"
        database = portal.database_url.removeprefix("sqlite:///")
        with sqlite3.connect(database) as db:
            db.execute(
                "UPDATE public_links SET expires_at = '2000-01-01 00:00:00' WHERE token_hash = ?",
                (hashlib.sha256(second.encode()).hexdigest(),),
            )
        expired = stranger.get(f"{portal.url}/p/{second}")
        assert expired.status_code == 404 and "not available" in expired.text


def test_a_password_is_needed_when_set(portal: Portal, published: Path) -> None:
    with signed_in(portal.url, "alice") as alice:
        secret = publish(alice, portal, published / "report.txt", password="open sesame")
    assert all(
        row[2].startswith("scrypt$") and "sesame" not in row[2] for row in links(portal) if row[2]
    )
    with new_client() as stranger:
        form = stranger.get(f"{portal.url}/p/{secret}")
        assert "password" in form.text and "Download" not in form.text
        early = stranger.get(f"{portal.url}/p/{secret}/download")
        assert early.status_code == 303
        wrong = stranger.post(
            f"{portal.url}/p/{secret}", data={"csrf_token": csrf_of(form), "password": "nope"}
        )
        assert wrong.status_code == 403 and "not right" in wrong.text
        right = stranger.post(
            f"{portal.url}/p/{secret}",
            data={"csrf_token": csrf_of(wrong), "password": "open sesame"},
        )
        assert right.status_code == 303
        assert stranger.get(f"{portal.url}/p/{secret}/download").content == b"the report"


def test_a_folder_link_cannot_be_escaped(portal: Portal, published: Path) -> None:
    with signed_in(portal.url, "alice") as alice:
        secret = publish(alice, portal, published / "folder")
    base = f"{portal.url}/p/{secret}"
    with new_client() as stranger:
        page = stranger.get(base)
        assert page.status_code == 200
        assert "escape" not in page.text and "private-link" not in page.text
        assert "onestop-upload" not in page.text, "an upload under way is not published"
        assert "&lt;img" in page.text and "<img src=x" not in page.text
        assert stranger.get(f"{base}/download?in=sub/data.csv").content == b"a,b\n1,2\n"
        for attempt in (
            "../private.txt",
            "sub/../../private.txt",
            "escape",
            "private-link",
            "/etc/hostname",
        ):
            refused = stranger.get(f"{base}/download?" + urlencode({"in": attempt}))
            assert refused.status_code == 404, attempt
            assert b"private" not in refused.content.replace(b"not available", b"")
        assert stranger.get(f"{base}?" + urlencode({"in": "../"})).status_code == 404
        # Swapping a subfolder for a symlink later does not open a way out either.
        shutil.rmtree(published / "folder/sub")
        (published / "folder/sub").symlink_to(published)
        os.lchown(published / "folder/sub", ALICE, ALICE)
        out = stranger.get(f"{base}/download?" + urlencode({"in": "sub/private.txt"}))
        assert out.status_code == 404


def test_share_pages_show_html_names_as_text(portal: Portal, published: Path) -> None:
    path = str(published / "folder" / XSS_NAME)
    with signed_in(portal.url, "alice") as alice:
        for page in ("share", "permissions", "publish"):
            shown = alice.get(f"{portal.url}/files/{page}", params={"path": path})
            assert shown.status_code == 200, (page, shown.text[:300])
            assert "<img src=x" not in shown.text
            assert XSS_NAME in unescape(shown.text)
    with signed_in(portal.url, "bob") as bob:
        # Bob may not even look at the sharing page of alice's private home items.
        refused = bob.get(
            f"{portal.url}/files/share", params={"path": str(published / "report.txt")}
        )
        assert refused.status_code in (403, 409) and "Traceback" not in refused.text


def test_the_download_is_audited_as_the_service_for_the_owner(
    portal: Portal, published: Path
) -> None:
    target = published / "report.txt"
    with signed_in(portal.url, "alice") as alice:
        secret = publish(alice, portal, target)
    with new_client() as stranger:
        assert stranger.get(f"{portal.url}/p/{secret}").status_code == 200
        assert stranger.get(f"{portal.url}/p/{secret}/download").content == b"the report"

    def rows(action: str) -> list[tuple[str, str, str, dict[str, object]]]:
        return [row for row in audited(portal, action) if row[1] == f"file:{target}"]

    # The gate's rows: the service principal did it, for her (routine successes are
    # written a moment later, in a batch).
    for action in ("files.public_list", "files.public_open"):
        (actor, _, outcome, detail), *_ = wait_until(lambda a=action: rows(a), 10)
        assert (actor, outcome, detail.get("on_behalf_of")) == (SERVICE, "ok", "alice")
    # The page's own row: the link was used, and what it gave out.
    (link_id,) = (
        r[0] for r in links(portal) if r[1] == hashlib.sha256(secret.encode()).hexdigest()
    )
    used = [row for row in rows("files.public_download") if row[0] == f"public-link:{link_id}"]
    assert [(outcome, detail.get("size")) for _, _, outcome, detail in used] == [("ok", 10)]


def test_without_the_services_rule_a_link_opens_nothing(
    cluster: None, idp: str, tmp_path: Path, published: Path
) -> None:
    """An administrator removed the principal's rule: the link's page refuses plainly,
    as for a link that is not there, and says nothing of the file."""
    with running_portal(tmp_path, TEST_PORT + 10) as second:
        with signed_in(second.url, "alice") as alice:
            secret = publish(alice, second, published / "report.txt")
        with new_client() as stranger:
            assert stranger.get(f"{second.url}/p/{secret}/download").content == b"the report"
        database = second.database_url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(database)) as db, db:
            removed = db.execute(
                "DELETE FROM casbin_rule WHERE ptype = 'p' AND v0 = ?", (SERVICE,)
            ).rowcount
        assert removed == 1
        second.restart()  # rules are read at start; a removed default stays removed
        with new_client() as stranger:
            for url in (f"{second.url}/p/{secret}", f"{second.url}/p/{secret}/download"):
                refused = stranger.get(url)
                assert refused.status_code == 404 and "not available" in refused.text, url
                assert "report" not in refused.text and "Traceback" not in refused.text
        denied = {
            (actor, action, outcome)
            for action in ("files.public_list", "files.public_open")
            for actor, _, outcome, _ in audited(second, action)
        }
        assert {
            (SERVICE, "files.public_list", "denied"),
            (SERVICE, "files.public_open", "denied"),
        } <= denied
