"""The file manager's verbs through the real gate and the real agents, as alice (the
owner), bob (in her project group chem) and carol (a stranger): folder operations,
name clashes, the trash, saving with a conflict check, usage, a 100,000-entry
folder, and a corpus of path attacks run on every verb."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.verbs import VerbDenied, VerbError, VerbFailed, VerbInvalid
from tests.verbs.conftest import Harness

UIDS = {"alice": 2001, "bob": 2002, "carol": 2003}
CHEM = Path("/srv/projects/chem")


def as_person(path: Path, who: str, *, folder: bool = False, text: str = "", mode: int = 0) -> Path:
    if folder:
        path.mkdir()
    else:
        path.write_text(text)
    os.chown(path, UIDS[who], 3001 if str(path).startswith(str(CHEM)) else UIDS[who])
    if mode:
        os.chmod(path, mode)
    return path


@pytest.fixture
def place() -> Iterator[Path]:
    """A fresh folder in alice's home, removed afterwards with her trash's leftovers."""
    folder = Path(f"/home/alice/fm-{uuid.uuid4().hex[:6]}")
    as_person(folder, "alice", folder=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    for who in UIDS:
        trash = Path(f"/home/{who}/.local/share/Trash")
        for part in ("files", "info"):
            for item in (trash / part).glob(f"*{folder.name}*") if trash.exists() else []:
                shutil.rmtree(item) if item.is_dir() else item.unlink()


async def call(harness: Harness, who: str, verb: str, **args: Any) -> Any:
    return await harness.gate.call(harness.person(who), verb, **args)


async def test_new_folder_and_file_and_their_name_clashes(harness: Harness, place: Path) -> None:
    made = await call(harness, "alice", "files.mkdir", path=f"{place}/data")
    assert made.kind == "folder" and (place / "data").is_dir()
    assert (place / "data").stat().st_uid == 2001  # made by her agent, as her
    with pytest.raises(VerbFailed) as clash:
        await call(harness, "alice", "files.mkdir", path=f"{place}/data")
    assert clash.value.detail == "EEXIST" and "already exists" in clash.value.message
    other = await call(
        harness, "alice", "files.mkdir", path=f"{place}/data", on_conflict="keep-both"
    )
    assert other.name == "data (2)"
    await call(harness, "alice", "files.create", path=f"{place}/notes.txt")
    second = await call(
        harness, "alice", "files.create", path=f"{place}/notes.txt", on_conflict="keep-both"
    )
    assert second.name == "notes (2).txt"


async def test_rename_move_and_copy_with_every_clash_choice(harness: Harness, place: Path) -> None:
    as_person(place / "a.txt", "alice", text="A")
    as_person(place / "b.txt", "alice", text="B")
    as_person(place / "sub", "alice", folder=True)
    with pytest.raises(VerbFailed) as clash:
        await call(
            harness, "alice", "files.move", path=f"{place}/a.txt", destination=f"{place}/b.txt"
        )
    assert clash.value.detail == "EEXIST"
    assert (place / "b.txt").read_text() == "B"  # nothing replaced without asking
    kept = await call(
        harness,
        "alice",
        "files.copy",
        path=f"{place}/a.txt",
        destination=f"{place}/b.txt",
        on_conflict="keep-both",
    )
    assert kept.name == "b (2).txt" and Path(kept.path).read_text() == "A"
    await call(
        harness,
        "alice",
        "files.move",
        path=f"{place}/a.txt",
        destination=f"{place}/b.txt",
        on_conflict="replace",
    )
    assert (place / "b.txt").read_text() == "A" and not (place / "a.txt").exists()
    # The replaced one went to the trash, from where it can come back.
    trash = await call(harness, "alice", "files.trash_list")
    replaced = [item for item in trash.items if item.original == f"{place}/b.txt"]
    assert replaced and Path(replaced[0].path).read_text() == "B"
    moved = await call(
        harness, "alice", "files.move", path=f"{place}/b.txt", destination=f"{place}/sub/c.txt"
    )
    assert moved.path == f"{place}/sub/c.txt"
    with pytest.raises(VerbFailed, match="into itself"):
        await call(harness, "alice", "files.move", path=str(place), destination=f"{place}/sub/x")


async def test_the_trash_keeps_restores_and_empties(harness: Harness, place: Path) -> None:
    as_person(place / "old.txt", "alice", text="old")
    item = await call(harness, "alice", "files.trash", path=f"{place}/old.txt")
    assert not (place / "old.txt").exists()
    assert item.path.startswith("/home/alice/.local/share/Trash/files/")
    info = Path(item.path.replace("/files/", "/info/") + ".trashinfo").read_text()
    assert f"Path={place}/old.txt" in info and "DeletionDate=" in info  # freedesktop layout
    # Put back; then again, onto a name taken meanwhile: she chooses.
    await call(harness, "alice", "files.restore", path=item.path)
    assert (place / "old.txt").read_text() == "old"
    item = await call(harness, "alice", "files.trash", path=f"{place}/old.txt")
    as_person(place / "old.txt", "alice", text="new")
    with pytest.raises(VerbFailed) as clash:
        await call(harness, "alice", "files.restore", path=item.path)
    assert clash.value.detail == "EEXIST"
    back = await call(harness, "alice", "files.restore", path=item.path, on_conflict="keep-both")
    assert back.name == "old (2).txt" and (place / "old.txt").read_text() == "new"
    # Nothing but her trash's own items can be purged or restored through it.
    for outside in (f"{place}/old.txt", "/home/alice/.local/share/Trash/files/../../../../fm"):
        with pytest.raises(VerbError):
            await call(harness, "alice", "files.purge", path=outside)
    assert (place / "old.txt").exists()
    item = await call(harness, "alice", "files.trash", path=f"{place}/old.txt")
    await call(harness, "alice", "files.purge", path=item.path)
    assert not Path(item.path).exists()
    # bob cannot see, restore or empty alice's trash.
    with pytest.raises(VerbError):
        await call(harness, "bob", "files.restore", path=item.path)


async def test_saving_refuses_to_overwrite_someone_elses_change(
    harness: Harness, place: Path
) -> None:
    import hashlib

    script = as_person(place / "run.sh", "alice", text="echo 1\n", mode=0o750)
    opened = hashlib.sha256(b"echo 1\n").hexdigest()
    saved = await call(
        harness, "alice", "files.save", path=str(script), content="echo 2\n", expected_sha256=opened
    )
    assert script.read_text() == "echo 2\n" and (script.stat().st_mode & 0o777) == 0o750
    # Someone else changed it after she opened the version she saved: refused.
    subprocess.run(["runuser", "-u", "alice", "--", "sh", "-c", f"echo 3 > {script}"], check=True)
    with pytest.raises(VerbFailed) as conflict:
        await call(
            harness,
            "alice",
            "files.save",
            path=str(script),
            content="mine\n",
            expected_sha256=saved.sha256,
        )
    assert conflict.value.detail == "conflict" and script.read_text() == "3\n"


async def test_usage_of_a_folder(harness: Harness, place: Path) -> None:
    as_person(place / "big.bin", "alice", text="x" * 100_000)
    found = await call(harness, "alice", "files.usage", path=str(place))
    assert found.complete and found.used >= 100_000 and found.disk_free > 0
    assert found.quota_limit is None or found.quota_limit > 0


async def test_a_project_folder_for_members_not_strangers(harness: Harness) -> None:
    name = f"fm-{uuid.uuid4().hex[:6]}.txt"
    try:
        await call(harness, "alice", "files.create", path=f"{CHEM}/{name}")
        page = await call(harness, "bob", "files.page", path=str(CHEM), filter=name)
        assert page.names == [name]  # a member sees it
        with pytest.raises(VerbFailed) as refused:
            await call(harness, "carol", "files.page", path=str(CHEM))
        assert refused.value.detail == "EACCES"
        with pytest.raises(VerbFailed):
            await call(harness, "carol", "files.create", path=f"{CHEM}/carol-was-here")
        with pytest.raises(VerbFailed):
            await call(harness, "carol", "files.trash", path=f"{CHEM}/{name}")
        assert (CHEM / name).exists()
    finally:
        (CHEM / name).unlink(missing_ok=True)


async def test_a_folder_of_100000_entries_pages_by_cursor(harness: Harness) -> None:
    folder = Path(f"/home/alice/fm-big-{uuid.uuid4().hex[:6]}")
    folder.mkdir()
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        for number in range(100_000):
            os.close(os.open(f"f{number:06d}", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=descriptor))
        os.chown(folder, 2001, 2001)
        # How soon it comes is measured by loadtests/bench_folder.py; here, that it is
        # one page of the sorted whole, with the count and a cursor to go on from.
        first = await call(harness, "alice", "files.page", path=str(folder), limit=200)
        assert first.total == 100_000 and first.names[:2] == ["f000000", "f000001"]
        assert len(first.names) == 200 and first.names[-1] == "f000199" and first.cursor
        second = await call(harness, "alice", "files.page", path=str(folder), cursor=first.cursor)
        assert second.names[0] == "f000200"
        newest = await call(
            harness, "alice", "files.page", path=str(folder), order="name", descending=True, limit=3
        )
        assert newest.names == ["f099999", "f099998", "f099997"]
        unsorted = await call(harness, "alice", "files.page", path=str(folder), order="folder")
        assert unsorted.total is None and len(unsorted.names) == 200 and unsorted.cursor == "200"
    finally:
        os.close(descriptor)
        shutil.rmtree(folder)


# ---------------------------------------------------------------- the attack corpus

ATTACKS = [
    "/home/bob/../alice/fm-secret",
    "/home/bob/../../home/alice/fm-secret",
    "/../../../home/alice/fm-secret",
    "//home//alice//fm-secret",
    "/home/./alice/./fm-secret",
    "../alice/fm-secret",
    "fm-secret",
    "/home/bob/..%2falice%2ffm-secret",
    "/home/bob/%2e%2e/alice/fm-secret",
    "/home/bob/%252e%252e/alice/fm-secret",
    "/home/bob/\u00c0\u00ae\u00c0\u00ae/alice/fm-secret",  # overlong UTF-8 of "." as text
    "/home/bob/\uff0e\uff0e/alice/fm-secret",  # fullwidth dots
    "/home/alice/fm-secret\x00.txt",
    "/home\\alice\\fm-secret",
    "/home/bob/..\\alice/fm-secret",
    "/home/alice/fm-secret\n",
    "/home/bob/" + "a" * 300,
    "/home/bob/" + "a/" * 2100,
    "/home/bob/link-alice/fm-secret",  # bob's own symlink into alice's home
    "/home/bob/link-alice",
    "/home/bob/link-etc/fm-pwned",  # and into /etc
    "/etc/fm-pwned",
    "/home/alice",
]


def attack_calls(path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every file manager verb with ``path`` in each path argument it has."""
    return [
        ("files.page", {"path": path}),
        ("files.stat", {"path": path}),
        ("files.read", {"path": path}),
        ("files.mkdir", {"path": path}),
        ("files.create", {"path": path}),
        ("files.move", {"path": path, "destination": "/home/bob/fm-loot"}),
        ("files.move", {"path": "/home/bob/fm-bait", "destination": path}),
        ("files.copy", {"path": path, "destination": "/home/bob/fm-loot"}),
        (
            "files.copy",
            {"path": "/home/bob/fm-bait", "destination": path, "on_conflict": "replace"},
        ),
        ("files.trash", {"path": path}),
        ("files.restore", {"path": path}),
        ("files.purge", {"path": path}),
        ("files.save", {"path": path, "content": "pwned"}),
        ("files.usage", {"path": path, "seconds": 0.2}),
    ]


@pytest.fixture
def planted() -> Iterator[None]:
    """alice's secret, bob's bait and bob's symlinks into alice's home and /etc."""
    secret = as_person(Path("/home/alice/fm-secret"), "alice", text="alice only", mode=0o600)
    bait = as_person(Path("/home/bob/fm-bait"), "bob", text="bait")
    links = [Path("/home/bob/link-alice"), Path("/home/bob/link-etc")]
    for link, target in zip(links, ["/home/alice", "/etc"], strict=True):
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        os.lchown(link, 2002, 2002)
    bobs = {p.name for p in Path("/home/bob").iterdir()}
    trash = Path("/home/bob/.local/share/Trash")
    trashed = {p.name for p in (trash / "files").iterdir()} if (trash / "files").exists() else set()
    yield
    for path in (secret, Path("/etc/fm-pwned")):
        path.unlink(missing_ok=True)
    # What bob's own agent made or moved in his own home (names that are odd but his).
    for path in Path("/home/bob").iterdir():
        if path.name not in bobs or path in (bait, *links):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    for part in ("files", "info"):
        for path in (trash / part).iterdir() if (trash / part).exists() else []:
            if path.name.removesuffix(".trashinfo") not in trashed:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()


@pytest.mark.parametrize("who", ["bob", "carol"])
async def test_path_attacks_reach_nothing_outside_what_the_person_may(
    harness: Harness, planted: None, who: str
) -> None:
    before = {p.name for p in Path("/home/alice").iterdir()}
    for attack in ATTACKS:
        for verb, args in attack_calls(attack):
            try:
                result = await call(harness, who, verb, **args)
            except (VerbInvalid, VerbDenied, VerbFailed) as refused:
                assert refused.message and "Traceback" not in refused.message
                continue
            if hasattr(result, "fd"):
                data = os.read(result.fd, 100)
                os.close(result.fd)
                assert b"alice only" not in data, (who, verb, attack)
            names = getattr(result, "names", [])
            assert "fm-secret" not in names, (who, verb, attack)
            if verb == "files.usage":
                assert not attack.startswith(("/home/alice", "/home/bob/link-alice")) or (
                    result.used == 0 and result.entries == 0
                ), (who, verb, attack)
    assert Path("/home/alice/fm-secret").read_text() == "alice only"
    assert {p.name for p in Path("/home/alice").iterdir()} == before
    assert not Path("/etc/fm-pwned").exists()
    # Nothing of alice's came over to bob's side (links of his own may move about).
    for path in Path("/home/bob").rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert "alice only" not in path.read_text(errors="replace"), path


async def test_the_owner_still_reaches_her_own_file_through_every_spelling(
    harness: Harness, planted: None
) -> None:
    for spelling in ATTACKS[:5]:
        entry = await call(harness, "alice", "files.stat", path=spelling)
        assert entry.path == "/home/alice/fm-secret"
