"""The whole file's SHA-256 at the end of an upload, through a real portal as alice.

The page's way: each piece carries its CRC-32, the upload was created with the
metadata ``checksum sha256`` and its last piece carries ``Repr-Digest``. The portal
computes the digest as the bytes pass, re-reads the part file when it lost that
(a restart, a refused piece), and names the file only when both agree.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Portal
from tests.files.test_transfer import (
    ALICE,
    CHUNK,
    Person,
    alice_file,
    hidden_parts,
    transfer_portal,
)


@pytest.fixture(scope="module")
def portal(cluster: None, idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with transfer_portal(tmp_path_factory.mktemp("whole")) as running:
        yield running


@pytest.fixture(scope="module")
def alice(portal: Portal) -> Iterator[Person]:
    person = Person(portal, "alice")
    yield person
    person.client.close()


@pytest.fixture
def home() -> Iterator[Path]:
    folder = Path(f"/home/alice/whole-{os.urandom(3).hex()}")
    folder.mkdir()
    os.chown(folder, ALICE, ALICE)
    yield folder
    for item in folder.rglob("*"):
        item.unlink()
    folder.rmdir()


def crc(data: bytes) -> str:
    return "crc32 " + base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def repr_digest(data: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def create(alice: Person, folder: Path, name: str, length: int) -> str:
    pairs = {"filename": name, "folder": str(folder), "checksum": "sha256"}
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())
    answer = alice.client.post(
        alice.url + "/files/uploads",
        headers={
            "X-CSRF-Token": alice.token,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(length),
            "Upload-Metadata": meta,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.headers["location"]


def patch(alice: Person, location: str, offset: int, body: bytes, **extra: str) -> httpx.Response:
    headers = {
        "X-CSRF-Token": alice.token,
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
        **{key.replace("_", "-"): value for key, value in extra.items()},
    }
    return alice.client.patch(alice.url + location, content=body, headers=headers)


def send(
    alice: Person, location: str, data: bytes, start: int, stop: int, whole: str
) -> httpx.Response:
    """Pieces with their CRC-32; the one that ends the file carries ``whole``."""
    offset, answer = start, None
    while offset < stop:
        piece = data[offset : min(offset + CHUNK, stop)]
        extra = {"Upload_Checksum": crc(piece)}
        if offset + len(piece) == len(data):
            extra["Repr_Digest"] = whole
        answer = patch(alice, location, offset, piece, **extra)
        if offset + len(piece) == len(data):
            return answer
        assert answer.status_code == 204, (answer.status_code, answer.text)
        offset = int(answer.headers["upload-offset"])
    assert answer is not None
    return answer


def test_the_file_is_named_only_when_its_sha256_matches(alice: Person, home: Path) -> None:
    data = os.urandom(3 * CHUNK + 1000)
    location = create(alice, home, "good.bin", len(data))
    last = send(alice, location, data, 0, len(data), repr_digest(data))
    assert last.status_code == 204, last.text
    assert last.headers["repr-digest"] == repr_digest(data)
    assert (home / "good.bin").read_bytes() == data and hidden_parts(home) == []

    # The browser read something else than what arrived: refused, the part kept aside.
    location = create(alice, home, "bad.bin", len(data))
    wrong = send(alice, location, data, 0, len(data), repr_digest(data[:-1] + b"?"))
    assert wrong.status_code == 422
    assert "SHA-256 checksums do not match" in wrong.text
    assert "not saved under its name" in wrong.text
    assert not (home / "bad.bin").exists()
    [part] = hidden_parts(home)
    assert part.read_bytes() == data and part.stat().st_mode & 0o777 == 0o600
    # The last piece again without the digest this upload promised: refused too.
    missing = patch(alice, location, len(data), b"")
    assert missing.status_code == 400 and "Repr-Digest" in missing.text
    unreadable = patch(alice, location, len(data), b"", Repr_Digest="sha-256=:nope:")
    assert unreadable.status_code == 400 and not (home / "bad.bin").exists()
    # The right digest now: the part file is read again from disk and passes.
    fixed = patch(alice, location, len(data), b"", Repr_Digest=repr_digest(data))
    assert fixed.status_code == 204, fixed.text
    assert (home / "bad.bin").read_bytes() == data and hidden_parts(home) == []


def test_a_refused_piece_leaves_no_trace_in_the_digest(alice: Person, home: Path) -> None:
    data = os.urandom(2 * CHUNK + 5)
    location = create(alice, home, "retried.bin", len(data))
    assert send(alice, location, data, 0, CHUNK, "").status_code == 204
    # The second piece arrives damaged (its bytes went through the digest) and again.
    damaged = data[CHUNK : 2 * CHUNK - 1] + b"\x00"
    refused = patch(alice, location, CHUNK, damaged, Upload_Checksum=crc(data[CHUNK : 2 * CHUNK]))
    assert refused.status_code == 460
    last = send(alice, location, data, CHUNK, len(data), repr_digest(data))
    assert last.status_code == 204, last.text
    assert (home / "retried.bin").read_bytes() == data


def test_after_a_restart_the_digest_is_read_back_from_the_part_file(
    portal: Portal, alice: Person, home: Path
) -> None:
    data = os.urandom(4 * CHUNK)
    kept = create(alice, home, "kept.bin", len(data))
    spoiled = create(alice, home, "spoiled.bin", len(data))
    send(alice, kept, data, 0, 2 * CHUNK, "")
    send(alice, spoiled, data, 0, 2 * CHUNK, "")
    portal.restart()
    # The disk changed under one of them while the portal was down.
    parts = {part.stat().st_ino: part for part in hidden_parts(home)}
    assert len(parts) == 2
    with open(sorted(parts.values(), key=lambda p: p.stat().st_mtime)[-1], "r+b") as part:
        part.seek(123)
        part.write(bytes([data[123] ^ 0xFF]))

    good = send(alice, kept, data, 2 * CHUNK, len(data), repr_digest(data))
    bad = send(alice, spoiled, data, 2 * CHUNK, len(data), repr_digest(data))
    assert good.status_code == 204, good.text
    assert bad.status_code == 422
    assert (home / "kept.bin").read_bytes() == data
    assert not (home / "spoiled.bin").exists() and len(hidden_parts(home)) == 1


def test_any_upload_may_ask_for_the_check_at_its_end(alice: Person, home: Path) -> None:
    """A plain tus client (no ``checksum`` metadata) may still send Repr-Digest with its
    last piece: the part file is read once more before it is named."""
    data = os.urandom(CHUNK + 7)
    alice_file(home / "keep.txt", b"x")
    plain = alice.create(str(home), "plain.bin", len(data))
    location = plain.headers["location"]
    first = patch(alice, location, 0, data[:CHUNK])
    assert first.status_code == 204
    wrong = patch(alice, location, CHUNK, data[CHUNK:], Repr_Digest=repr_digest(b"other"))
    assert wrong.status_code == 422 and not (home / "plain.bin").exists()
    right = patch(alice, location, len(data), b"", Repr_Digest=repr_digest(data))
    assert right.status_code == 204 and (home / "plain.bin").read_bytes() == data
