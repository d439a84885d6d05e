"""Downloads, zips and resumable uploads through a real portal, as alice and bob.

The portal here has agents of its own (a fresh runtime folder, so they run this
checkout's code) and small upload pieces (``files.chunk_bytes`` = 4 MiB) so a 64 MiB
upload is many pieces and the suite stays fast. One test kills the portal in the
middle of an upload and starts it again.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PORT, Portal, portal_with_own_agents
from tests.helpers import new_client, sign_in

PORT = TEST_PORT + 10
CHUNK = 4 * 1024 * 1024
LIMIT = 256 * 1024 * 1024
ALICE = 2001
BOB = 2002


@contextlib.contextmanager
def transfer_portal(workdir: Path, port: int = PORT, **extra: str) -> Iterator[Portal]:
    """A portal with agents of its own (fresh code) and small upload pieces."""
    with portal_with_own_agents(
        workdir,
        port,
        **{
            "ONESTOP_FILES__CHUNK_BYTES": str(CHUNK),
            "ONESTOP_FILES__MAX_UPLOAD_BYTES": str(LIMIT),
            **extra,
        },
    ) as portal:
        yield portal


@pytest.fixture(scope="module")
def portal(cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with transfer_portal(tmp_path_factory.mktemp("transfer")) as running:
        yield running


class Person:
    """A signed-in httpx client and the page's CSRF token."""

    def __init__(self, portal: Portal, name: str) -> None:
        self.url = portal.url
        self.client = new_client()
        self.client.timeout = httpx.Timeout(60)
        assert sign_in(self.client, portal.url, name).status_code == 303
        page = self.client.get(f"{portal.url}/files/upload")
        assert page.status_code == 200, page.text[:300]
        self.token = page.text.split('name="csrf-token" content="')[1].split('"')[0]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(self.url + path, **kwargs)  # type: ignore[arg-type]

    def create(self, folder: str, name: str, length: int, conflict: str = "") -> httpx.Response:
        pairs = {"filename": name, "folder": folder}
        if conflict:
            pairs["conflict"] = conflict
        meta = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs.items()
        )
        return self.client.post(
            self.url + "/files/uploads",
            headers={
                "X-CSRF-Token": self.token,
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(length),
                "Upload-Metadata": meta,
            },
        )

    def patch(
        self, location: str, offset: int, body: bytes | Iterator[bytes], checksum: str | None
    ) -> httpx.Response:
        headers = {
            "X-CSRF-Token": self.token,
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        }
        if checksum is not None:
            headers["Upload-Checksum"] = f"sha256 {checksum}"
        return self.client.patch(self.url + location, content=body, headers=headers)

    def offset(self, location: str) -> int:
        answer = self.client.head(self.url + location)
        assert answer.status_code == 200, answer.status_code
        return int(answer.headers["upload-offset"])

    def send(self, location: str, data: bytes, start: int, stop: int) -> httpx.Response:
        """Checked pieces of ``data`` from ``start`` to ``stop``; the last answer."""
        offset = start
        answer = None
        while offset < stop:
            piece = data[offset : min(offset + CHUNK, stop)]
            answer = self.patch(location, offset, piece, digest(piece))
            assert answer.status_code == 204, (answer.status_code, answer.text)
            offset = int(answer.headers["upload-offset"])
        assert answer is not None
        return answer


def digest(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def as_user(path: Path, uid: int) -> None:
    os.chown(path, uid, uid, follow_symlinks=False)


@pytest.fixture
def home() -> Iterator[Path]:
    """A folder of alice's for one test, removed afterwards."""
    folder = Path(f"/home/alice/xfer-{uuid.uuid4().hex[:6]}")
    folder.mkdir()
    as_user(folder, ALICE)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def alice(portal: Portal) -> Iterator[Person]:
    person = Person(portal, "alice")
    yield person
    person.client.close()


@pytest.fixture(scope="module")
def bob(portal: Portal) -> Iterator[Person]:
    person = Person(portal, "bob")
    yield person
    person.client.close()


def alice_file(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    as_user(path, ALICE)
    return path


# --- downloads ------------------------------------------------------------------------


def test_a_range_download_resumes_with_the_exact_bytes(alice: Person, home: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = alice_file(home / "data.bin", data)
    whole = alice.get("/files/download", params={"path": str(path)})
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    etag = whole.headers["etag"]

    # The browser got 1,000,000 bytes, lost the connection, and asks for the rest.
    rest = alice.get(
        "/files/download",
        params={"path": str(path)},
        headers={"Range": "bytes=1000000-", "If-Range": etag},
    )
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 1000000-{len(data) - 1}/{len(data)}"
    assert whole.content[:1000000] + rest.content == data

    middle = alice.get(
        "/files/download", params={"path": str(path)}, headers={"Range": "bytes=10-19"}
    )
    assert (middle.status_code, middle.content) == (206, data[10:20])
    last = alice.get("/files/download", params={"path": str(path)}, headers={"Range": "bytes=-5"})
    assert (last.status_code, last.content) == (206, data[-5:])
    beyond = alice.get(
        "/files/download", params={"path": str(path)}, headers={"Range": "bytes=99999999-"}
    )
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
    # The file changed since: If-Range no longer matches, so the whole new file comes.
    alice_file(path, b"new content")
    stale = alice.get(
        "/files/download",
        params={"path": str(path)},
        headers={"Range": "bytes=5-", "If-Range": etag},
    )
    assert (stale.status_code, stale.content) == (200, b"new content")
    head = alice.client.head(alice.url + "/files/download", params={"path": str(path)})
    assert head.status_code == 200 and head.headers["content-length"] == "11"
    assert head.content == b""


def test_html_is_downloaded_never_shown(alice: Person, home: Path) -> None:
    page = alice_file(home / "page.html", b"<script>alert(document.cookie)</script>")
    answer = alice.get("/files/download", params={"path": str(page)})
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''page.html" in answer.headers["content-disposition"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-security-policy"].startswith("sandbox")


def test_a_name_with_quotes_and_accents_survives(alice: Person, home: Path) -> None:
    odd = alice_file(home / 'résumé "final";.txt', b"x")
    answer = alice.get("/files/download", params={"path": str(odd)})
    disposition = answer.headers["content-disposition"]
    assert 'filename="r_sum_ _final__.txt"' in disposition
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3B.txt" in disposition


def test_bob_cannot_download_alices_private_file(alice: Person, bob: Person, home: Path) -> None:
    secret = alice_file(home / "private.txt", b"alice's secret", 0o600)
    answer = bob.get("/files/download", params={"path": str(secret)})
    assert answer.status_code in (403, 404)
    assert "alice's secret" not in answer.text
    assert "permission" in answer.text
    assert "Traceback" not in answer.text
    zipped = bob.get("/files/zip", params={"path": str(secret)})
    assert zipped.status_code in (403, 404) and "alice's secret" not in zipped.text
    # Path tricks reach the same file and the same refusal.
    for spelling in (
        f"/home/bob/../alice/{home.name}/private.txt",
        f"//home//alice/{home.name}/./private.txt",
    ):
        tricked = bob.get("/files/download", params={"path": spelling})
        assert tricked.status_code in (403, 404) and "alice's secret" not in tricked.text
    for bad in (f"{secret}\x00.txt", "home/alice/x", f"{home}\\private.txt"):
        refused = bob.get("/files/download", params={"path": bad})
        assert refused.status_code == 400 and "Traceback" not in refused.text


def test_a_folder_zip_streams_and_skips_what_she_may_not_read(alice: Person, home: Path) -> None:
    project = home / "project"
    (project / "sub").mkdir(parents=True)
    alice_file(project / "a.txt", b"alpha")
    alice_file(project / "sub" / "b.bin", os.urandom(2 * 1024 * 1024))
    for folder in (project, project / "sub"):
        as_user(folder, ALICE)
    bobs = Path("/home/bob/xfer-secret.txt")
    bobs.write_text("bob's secret")
    bobs.chmod(0o600)
    as_user(bobs, BOB)
    try:
        (project / "shadow").symlink_to("/etc/shadow")
        (project / "bobs").symlink_to(bobs)
        (project / "loop").symlink_to("..")
        (project / "link-to-a.txt").symlink_to("a.txt")
        os.mkfifo(project / "pipe")
        # An upload under way in that folder is not one of her files yet.
        alice_file(project / f".onestop-upload-{'0' * 32}.part", b"half")
        for planted in ("shadow", "bobs", "loop", "link-to-a.txt", "pipe"):
            as_user(project / planted, ALICE)
        answer = alice.get("/files/zip", params={"path": str(project)})
        assert answer.status_code == 200, answer.text[:300]
        assert answer.headers["content-type"] == "application/zip"
        assert "filename*=UTF-8''project.zip" in answer.headers["content-disposition"]
        archive = zipfile.ZipFile(io.BytesIO(answer.content))
        assert sorted(archive.namelist()) == [
            "project/",
            "project/a.txt",
            "project/link-to-a.txt",
            "project/sub/",
            "project/sub/b.bin",
        ]
        assert archive.testzip() is None
        assert archive.read("project/a.txt") == b"alpha"
        assert archive.read("project/sub/b.bin") == (project / "sub" / "b.bin").read_bytes()
        assert b"bob's secret" not in answer.content and b"root:" not in answer.content

        # A selection: two items of one folder.
        chosen = alice.get(
            "/files/zip",
            params=[("path", str(project / "a.txt")), ("path", str(project / "sub"))],
        )
        names = sorted(zipfile.ZipFile(io.BytesIO(chosen.content)).namelist())
        assert names == ["a.txt", "sub/", "sub/b.bin"]
        assert "filename*=UTF-8''project.zip" in chosen.headers["content-disposition"]
        # Items of two folders: refused with words.
        mixed = alice.get(
            "/files/zip", params=[("path", str(project / "a.txt")), ("path", "/home/alice")]
        )
        assert mixed.status_code == 400 and "one folder" in mixed.text
    finally:
        bobs.unlink()


def test_a_folder_download_becomes_a_zip(alice: Person, home: Path) -> None:
    answer = alice.get("/files/download", params={"path": str(home)})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/files/zip?path=")


# --- uploads --------------------------------------------------------------------------


def hidden_parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".onestop-upload-*.part"))


def test_an_upload_resumes_after_a_dropped_connection_and_a_portal_restart(
    portal: Portal, alice: Person, home: Path
) -> None:
    data = os.urandom(64 * 1024 * 1024)
    final = home / "big.bin"
    created = alice.create(str(home), "big.bin", len(data))
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert created.headers["onestop-chunk-size"] == str(CHUNK)

    alice.send(location, data, 0, 3 * CHUNK)
    # Mid-way: only a hidden part file, private to her; never the final name.
    assert not final.exists()
    [part] = hidden_parts(home)
    info = part.stat()
    assert (info.st_uid, info.st_mode & 0o777, info.st_size) == (ALICE, 0o600, 3 * CHUNK)

    # The connection drops half-way through a piece: nothing of that piece is kept.
    def cut_short() -> Iterator[bytes]:
        yield data[3 * CHUNK : 3 * CHUNK + CHUNK // 2]
        raise ConnectionResetError("the train went into a tunnel")

    with pytest.raises((httpx.HTTPError, ConnectionResetError)):
        alice.patch(location, 3 * CHUNK, cut_short(), digest(data[3 * CHUNK : 4 * CHUNK]))
    assert alice.offset(location) == 3 * CHUNK
    alice.send(location, data, 3 * CHUNK, 6 * CHUNK)

    # The portal is killed while a piece is on its way, and started again.
    on_its_way = threading.Event()

    def slow_piece() -> Iterator[bytes]:
        piece = data[6 * CHUNK : 7 * CHUNK]
        for start in range(0, len(piece), 256 * 1024):
            yield piece[start : start + 256 * 1024]
            on_its_way.set()  # the first bytes were handed to the connection
            time.sleep(0.05)  # the point: a slow sender, still sending when it dies

    outcome: list[object] = []
    sender = threading.Thread(
        target=lambda: outcome.append(
            _try(
                lambda: alice.patch(
                    location, 6 * CHUNK, slow_piece(), digest(data[6 * CHUNK : 7 * CHUNK])
                )
            )
        )
    )
    sender.start()
    assert on_its_way.wait(30), "the piece never started"
    portal.restart()
    sender.join(30)
    assert not isinstance(outcome[0], httpx.Response) or outcome[0].status_code != 204
    assert not final.exists()

    # Same session (sessions live in the database), same address: carry on from there.
    offset = alice.offset(location)
    assert offset == 6 * CHUNK
    last = alice.send(location, data, offset, len(data))
    assert last.headers["onestop-file"] == str(final).replace(" ", "%20")
    assert hashlib.sha256(final.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert final.stat().st_uid == ALICE
    assert final.stat().st_mode & 0o777 == 0o664  # her umask (002), not the part's 0600
    assert hidden_parts(home) == []


def _try(call: object) -> object:
    try:
        return call()  # type: ignore[operator]
    except Exception as error:
        return error


def test_a_piece_with_a_wrong_checksum_is_refused(alice: Person, home: Path) -> None:
    data = os.urandom(2 * CHUNK)
    location = alice.create(str(home), "checked.bin", len(data)).headers["location"]
    damaged = alice.patch(location, 0, data[:CHUNK], digest(b"something else"))
    assert damaged.status_code == 460 and "Checksum mismatch" in damaged.text
    assert alice.offset(location) == 0
    assert hidden_parts(home)[0].stat().st_size == 0
    unknown = alice.patch(location, 0, data[:CHUNK], None)
    assert unknown.status_code == 204  # a plain tus client without checksums still works
    wrong_place = alice.patch(location, 5, data[5:10], digest(data[5:10]))
    assert wrong_place.status_code == 409 and wrong_place.headers["upload-offset"] == str(CHUNK)
    too_big = alice.patch(location, CHUNK, data[CHUNK:] + b"extra", digest(data[CHUNK:] + b"extra"))
    assert too_big.status_code == 413
    alice.send(location, data, CHUNK, len(data))
    assert (home / "checked.bin").read_bytes() == data


def test_names_with_dots_and_slashes_stay_in_the_chosen_folder(alice: Person, home: Path) -> None:
    for name in ("../escape.txt", "/etc/evil.txt", "a/../../escape.txt", "a//b.txt", "..",
                 "a\\..\\b.txt", "nul\x00.txt", "x" * 300):  # fmt: skip
        answer = alice.create(str(home), name, 3)
        assert answer.status_code == 400, (name, answer.status_code, answer.text)
        assert "Traceback" not in answer.text and answer.text
    assert not Path("/home/alice/escape.txt").exists() and not Path("/etc/evil.txt").exists()
    # Percent-encoding is not decoded: the name is taken as it is, inside the folder.
    for name, lands in (("%2e%2e%2fescape.txt", "%2e%2e%2fescape.txt"), ("sub/inner.txt", "sub/inner.txt")):  # fmt: skip
        created = alice.create(str(home), name, 3)
        assert created.status_code == 201, created.text
        alice.send(created.headers["location"], b"abc", 0, 3)
        assert (home / lands).read_bytes() == b"abc"
    assert (home / "sub").stat().st_uid == ALICE


def test_a_link_planted_by_bob_does_not_lead_the_upload_away(alice: Person) -> None:
    shared = Path(f"/tmp/xfer-shared-{uuid.uuid4().hex[:6]}")
    shared.mkdir(mode=0o777)
    shared.chmod(0o1777)
    try:
        (shared / "results").symlink_to("/home/alice")
        as_user(shared / "results", BOB)
        answer = alice.create(str(shared), "results/planted.txt", 3)
        assert answer.status_code in (400, 403, 409), answer.text
        assert not Path("/home/alice/planted.txt").exists()
        assert not list(Path("/home/alice").glob(".onestop-upload-*.part"))
    finally:
        shutil.rmtree(shared)


def test_abandoned_part_files_are_removed_and_never_listed(alice: Person, home: Path) -> None:
    """A part file untouched for files.abandoned_upload_days (7) goes when her next
    upload starts in that folder; a recent one (an upload under way) stays; the
    listing shows neither, even with hidden files on."""
    stale = alice_file(home / f".onestop-upload-{'a' * 32}.part", b"old", mode=0o600)
    fresh = alice_file(home / f".onestop-upload-{'b' * 32}.part", b"new", mode=0o600)
    alice_file(home / ".kept-hidden", b"x")
    week_ago = time.time() - 8 * 86400
    os.utime(stale, (week_ago, week_ago))
    listing = alice.get("/files", params={"path": str(home), "hidden": "1"})
    assert listing.status_code == 200 and ".kept-hidden" in listing.text
    assert ".onestop-upload-" not in listing.text

    created = alice.create(str(home), "next.bin", 3)
    assert created.status_code == 201, created.text
    assert not stale.exists() and fresh.read_bytes() == b"new"
    assert len(hidden_parts(home)) == 2  # the fresh one and the new upload's own
    listing = alice.get("/files", params={"path": str(home), "hidden": "1"})
    assert ".onestop-upload-" not in listing.text


def test_bob_cannot_use_alices_upload(alice: Person, bob: Person, home: Path) -> None:
    location = alice.create(str(home), "mine.bin", 10).headers["location"]
    assert bob.client.head(bob.url + location).status_code in (403, 404)
    taken = bob.patch(location, 0, b"0123456789", digest(b"0123456789"))
    assert taken.status_code in (403, 404)
    assert alice.offset(location) == 0
    assert bob.create(str(home), "into-alice.txt", 3).status_code in (403, 404, 409)


def test_an_upload_over_the_limit_is_refused_up_front(alice: Person, home: Path) -> None:
    answer = alice.create(str(home), "huge.bin", 2 * LIMIT)
    assert answer.status_code == 413
    assert "huge.bin is 512 MB; the portal takes files of up to 256 MB" in answer.text
    assert list(home.iterdir()) == []


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 16 MiB file system of alice's: a real disk that an upload can overflow."""
    mount = Path(f"/mnt/xfer-small-{uuid.uuid4().hex[:6]}")
    mount.mkdir()
    subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size=16m,uid={ALICE},gid={ALICE},mode=0755",
            "xfer",
            mount,
        ],
        check=True,
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", mount], check=True)
        mount.rmdir()


def test_an_upload_that_does_not_fit_is_refused_up_front(alice: Person, small_disk: Path) -> None:
    answer = alice.create(str(small_disk), "too-big.bin", 32 * 1024 * 1024)
    assert answer.status_code == 413
    assert "not enough room" in answer.text and "32 MB" in answer.text
    assert list(small_disk.iterdir()) == []
    fits = alice.create(str(small_disk), "fits.bin", 1024)
    assert fits.status_code == 201


def test_the_conflict_rules(alice: Person, home: Path) -> None:
    alice_file(home / "report.txt", b"old")
    keep = alice.create(str(home), "report.txt", 3)
    last = alice.send(keep.headers["location"], b"new", 0, 3)
    assert last.headers["onestop-file"].endswith("report%20%281%29.txt")
    assert (home / "report (1).txt").read_bytes() == b"new"
    refused = alice.create(str(home), "report.txt", 3, conflict="fail")
    assert refused.status_code == 409 and "already there" in refused.text
    replace = alice.create(str(home), "report.txt", 3, conflict="replace")
    alice.send(replace.headers["location"], b"NEW", 0, 3)
    assert (home / "report.txt").read_bytes() == b"NEW"
    empty = alice.create(str(home), "empty.txt", 0)
    assert empty.status_code == 201 and (home / "empty.txt").read_bytes() == b""
    cancelled = alice.create(str(home), "given-up.bin", 10)
    answer = alice.client.delete(
        alice.url + cancelled.headers["location"], headers={"X-CSRF-Token": alice.token}
    )
    assert answer.status_code == 204 and hidden_parts(home) == []


def test_uploads_need_the_csrf_token(alice: Person, home: Path) -> None:
    answer = alice.client.post(
        alice.url + "/files/uploads",
        headers={"Upload-Length": "3", "Upload-Metadata": "filename YQ=="},
    )
    assert answer.status_code == 403
