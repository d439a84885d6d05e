"""The symlink race harness of test_acl_shares.py, on copy and move.

A thread swaps alice's folder ``data/swap`` with a symlink (to bob's private file and
folder, to a world-readable folder, to /etc/hostname, to her own private folder) as
fast as it can while alice copies and moves ``swap``. The agent runs as alice, so the
kernel checks every open: what lands in her copies is only what she could read anyway,
and nothing outside her own files changes (mode, owner, ACL, contents).

``files.copy`` copies a symbolic link as a link, never following it, the top-level
item included (as ``cp -a``, GNOME Files and Finder do): the item is opened once
without following and copied from that descriptor. So every copy made during the race
is her own folder (holding only ``mine.txt``) or a link whose target is one of the
swapped-in names; nothing is read through a link, not even what she could read.
``files.move`` renames the name itself (``rename`` never follows a symlink), so it
moves her link, never its target.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.verbs import VerbFailed
from tests.sharing.race import swapping
from tests.sharing.test_acl_shares import ALICE, as_user, facl, own, tree
from tests.verbs.conftest import Harness

__all__ = ["tree"]

BOB = 2002
SECRET = b"bob-secret-do-not-copy"


@pytest.fixture
def outside() -> Iterator[dict[str, Path]]:
    """Bob's private file and folder, and a root-owned world-readable folder."""
    bob_file = Path("/home/bob/race-copy.txt")
    bob_dir = Path("/home/bob/race-copy-dir")
    public = Path(f"/tmp/race-public-{uuid.uuid4().hex[:6]}")
    bob_file.write_bytes(SECRET)
    bob_dir.mkdir()
    (bob_dir / "inside.txt").write_bytes(SECRET)
    for path in (bob_file, bob_dir, bob_dir / "inside.txt"):
        os.chown(path, BOB, BOB)
    bob_file.chmod(0o600)
    bob_dir.chmod(0o700)
    (bob_dir / "inside.txt").chmod(0o600)
    public.mkdir(mode=0o755)
    (public / "pub.txt").write_bytes(b"public")
    (public / "pub.txt").chmod(0o644)
    yield {"bob_file": bob_file, "bob_dir": bob_dir, "public": public}
    bob_file.unlink(missing_ok=True)
    shutil.rmtree(bob_dir, ignore_errors=True)
    shutil.rmtree(public, ignore_errors=True)


def state(paths: list[Path]) -> dict[str, tuple[int, int, int, str, str]]:
    """Mode, owner, group, ACL and (for a file) contents' hash, without following links."""
    result = {}
    for path in paths:
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        result[str(path)] = (info.st_mode, info.st_uid, info.st_gid, facl(path), digest)
    return result


async def test_copy_and_move_under_a_symlink_race(
    harness: Harness, tree: Path, outside: dict[str, Path]
) -> None:
    alice = harness.person("alice")
    real = tree / "data/real"
    real.mkdir()
    (real / "mine.txt").write_bytes(b"mine")
    for folder in ("copies", "moved"):
        (tree / folder).mkdir()
    own(tree)
    targets = [
        outside["bob_file"],
        outside["bob_dir"],
        outside["public"],
        Path("/etc/hostname"),
        tree / "private",
    ]
    watched = [
        *targets,
        outside["bob_dir"] / "inside.txt",
        outside["public"] / "pub.txt",
        tree / "private/secret.txt",
    ]
    before = state(watched)
    # What alice may read anyway, as the kernel says (runuser cat), and what she may not.
    readable = {
        source.read_bytes()
        for source in (real / "mine.txt", outside["public"] / "pub.txt", Path("/etc/hostname"),
                       tree / "private/secret.txt")
        if as_user("alice", "cat", str(source)).returncode == 0
    }  # fmt: skip
    assert len(readable) == 4
    assert as_user("alice", "cat", str(outside["bob_file"])).returncode != 0
    assert as_user("alice", "ls", str(outside["bob_dir"])).returncode != 0

    swap = tree / "data/swap"
    outcomes: dict[str, int] = {}
    moved_links: list[str] = []
    with swapping(swap, real, targets):
        # At least 3 seconds, and until both verbs worked a few times (a busy machine
        # is slower), but never more than 30.
        start = time.monotonic()

        def racing() -> bool:
            spent = time.monotonic() - start
            worked = min(outcomes.get("files.copy", 0), outcomes.get("files.move", 0))
            return spent < 3 or (worked < 5 and spent < 30)

        n = 0
        while racing():
            n += 1
            for verb, destination in (
                ("files.copy", tree / f"copies/c{n}"),
                ("files.move", tree / f"moved/m{n}"),
            ):
                try:
                    await harness.gate.call(
                        alice, verb, path=str(swap), destination=str(destination)
                    )
                    outcomes[verb] = outcomes.get(verb, 0) + 1
                except VerbFailed as error:
                    outcomes[error.detail] = outcomes.get(error.detail, 0) + 1
                if verb == "files.move" and os.path.lexists(destination):
                    if destination.is_symlink():  # her link moved, never its target
                        moved_links.append(os.readlink(destination))
                        destination.unlink()
                    elif not real.exists():  # her folder: put it back for the swapper
                        os.rename(destination, real)
    after = state(watched)
    assert after == before, outcomes
    assert outcomes.get("files.copy", 0) >= 5 and outcomes.get("files.move", 0) >= 5, outcomes
    assert set(moved_links) <= {str(target) for target in targets}

    # Every copy is her folder or a link to a name the swapper used; every file in
    # them was made by her and holds her own data, nothing read through a link.
    names = {str(target) for target in targets}
    folders = 0
    for copy in (tree / "copies").iterdir():
        assert copy.lstat().st_uid == ALICE, copy
        if copy.is_symlink():
            assert os.readlink(copy) in names, (copy, os.readlink(copy))
            continue
        folders += 1
        assert sorted(item.name for item in copy.iterdir()) == ["mine.txt"], copy
        assert (copy / "mine.txt").read_bytes() == b"mine"
        assert (copy / "mine.txt").lstat().st_uid == ALICE
    assert folders >= 1, outcomes


async def test_a_link_is_copied_as_a_link(harness: Harness, tree: Path) -> None:
    """A link to a file, to a folder (hers, and bob's she may not open), a relative
    one and a dangling one: each copy is a link with the same target text, and
    nothing behind it was read or copied. A pipe is refused in words, and left out of
    a folder's copy."""
    alice = harness.person("alice")
    links = tree / "links"
    (links / "out").mkdir(parents=True)
    for name, target in (
        ("to-file", str(tree / "private/secret.txt")),
        ("to-folder", str(tree / "data")),
        ("to-bob", "/home/bob"),
        ("relative", "../data/sib.txt"),
        ("dangling", "/nonexistent/nothing"),
    ):
        (links / name).symlink_to(target)
    os.mkfifo(links / "pipe")
    own(tree)
    for name in ("to-file", "to-folder", "to-bob", "relative", "dangling"):
        copied = await harness.gate.call(
            alice, "files.copy", path=str(links / name), destination=str(links / "out" / name)
        )
        made = links / "out" / name
        assert made.is_symlink() and os.readlink(made) == os.readlink(links / name), name
        assert made.lstat().st_uid == ALICE and copied.path == str(made), name
    refused = None
    try:
        await harness.gate.call(
            alice, "files.copy", path=str(links / "pipe"), destination=str(links / "out/pipe")
        )
    except VerbFailed as error:
        refused = error
    assert refused is not None and "Only files, folders and links" in refused.message
    assert not os.path.lexists(links / "out/pipe")
    # A folder holding links: copied whole, its links as links.
    await harness.gate.call(
        alice, "files.copy", path=str(links), destination=str(tree / "links-copy")
    )
    assert os.readlink(tree / "links-copy/to-folder") == str(tree / "data")
    assert not os.path.lexists(tree / "links-copy/pipe")  # not data: left out
    assert not (tree / "links-copy/to-folder").resolve().is_relative_to(tree / "links-copy")
