"""Unpacking refuses what would escape the folder or swamp the disk, and leaves
nothing behind when it does."""

from __future__ import annotations

import io
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from managers.data.archives import ArchiveError, unpack_into
from managers.data.spec import Limits

LIMITS = Limits(max_unpack_bytes=10 * 2**20, max_unpack_files=100)


def _zip(path: Path, entries: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for member in members:
            content = (data or {}).get(member.name)
            if content is not None:
                member.size = len(content)
                bundle.addfile(member, io.BytesIO(content))
            else:
                bundle.addfile(member)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = link
    member.mode = 0o644
    return member


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, Path]:
    """(the target folder, a folder beside it that must stay untouched)."""
    target = tmp_path / "target"
    outside = tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    return target, outside


def _nothing_left(target: Path, outside: Path) -> None:
    assert list(target.iterdir()) == []
    assert list(outside.iterdir()) == []


def test_good_zip_and_tar(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, _ = place
    archive = _zip(tmp_path / "good.zip", {"data/a.txt": b"alpha", "data/sub/b.txt": b"beta"})
    assert unpack_into(str(archive), "good.zip", str(target), LIMITS) == ["data"]
    assert (target / "data" / "sub" / "b.txt").read_bytes() == b"beta"
    members = [_member("run/x.csv"), _member("run/link", tarfile.SYMTYPE, "x.csv")]
    tar = _tar(tmp_path / "good.tar.gz", members, {"run/x.csv": b"1,2,3\n"})
    assert unpack_into(str(tar), "good.tar.gz", str(target), LIMITS) == ["run"]
    assert (target / "run" / "link").read_bytes() == b"1,2,3\n"
    # a second archive with the same top name lands beside, never over hers
    assert unpack_into(str(archive), "good.zip", str(target), LIMITS) == ["data (2)"]


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt"])
def test_zip_slip(place: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    target, outside = place
    archive = _zip(tmp_path / "slip.zip", {"ok.txt": b"fine", name: b"evil"})
    with pytest.raises(ArchiveError) as caught:
        unpack_into(str(archive), "slip.zip", str(target), LIMITS)
    assert caught.value.code == "archive_unsafe"
    assert "outside" in caught.value.message
    _nothing_left(target, outside)
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_out_then_write_through(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, outside = place
    members = [_member("link", tarfile.SYMTYPE, "../outside"), _member("link/evil.txt")]
    tar = _tar(tmp_path / "link.tar.gz", members, {"link/evil.txt": b"evil"})
    with pytest.raises(ArchiveError) as caught:
        unpack_into(str(tar), "link.tar.gz", str(target), LIMITS)
    assert caught.value.code == "archive_unsafe"
    _nothing_left(target, outside)


def test_symlink_out_absolute_in_zip(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, outside = place
    archive = _zip(tmp_path / "abs.zip", {"a.txt": b"a"}, links={"passwd": "/etc/passwd"})
    with pytest.raises(ArchiveError, match="points outside"):
        unpack_into(str(archive), "abs.zip", str(target), LIMITS)
    _nothing_left(target, outside)


def test_symlink_escaping_through_another_link(place: tuple[Path, Path], tmp_path: Path) -> None:
    """Lexically inside, really outside: c/b -> .., then a -> c/b/.. is the parent."""
    target, outside = place
    members = [
        _member("c", tarfile.DIRTYPE),
        _member("c/b", tarfile.SYMTYPE, ".."),
        _member("a", tarfile.SYMTYPE, "c/b/.."),
    ]
    tar = _tar(tmp_path / "chain.tar.gz", members)
    with pytest.raises(ArchiveError, match="outside"):
        unpack_into(str(tar), "chain.tar.gz", str(target), LIMITS)
    _nothing_left(target, outside)


def test_hard_link_out(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, outside = place
    secret = outside / "secret.txt"
    secret.write_text("hers")
    tar = _tar(
        tmp_path / "hard.tar.gz", [_member("grab", tarfile.LNKTYPE, "../outside/secret.txt")]
    )
    with pytest.raises(ArchiveError) as caught:
        unpack_into(str(tar), "hard.tar.gz", str(target), LIMITS)
    assert caught.value.code == "archive_unsafe"
    assert list(target.iterdir()) == []
    assert secret.stat().st_nlink == 1


def test_device_and_fifo(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, outside = place
    for kind in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
        tar = _tar(tmp_path / "dev.tar.gz", [_member("ok", tarfile.DIRTYPE), _member("dev", kind)])
        with pytest.raises(ArchiveError, match="device"):
            unpack_into(str(tar), "dev.tar.gz", str(target), LIMITS)
        _nothing_left(target, outside)


def test_tar_bomb(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, outside = place
    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as bundle:
        for index in range(3):
            member = _member(f"zeros{index}")
            member.size = 8 * 2**20
            bundle.addfile(member, io.BytesIO(bytes(member.size)))
    assert path.stat().st_size < 200_000
    with pytest.raises(ArchiveError) as caught:
        unpack_into(str(path), "bomb.tar.gz", str(target), LIMITS)
    assert caught.value.code == "too_large"
    _nothing_left(target, outside)


def test_too_many_files(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, outside = place
    archive = _zip(tmp_path / "many.zip", {f"f{index}": b"x" for index in range(101)})
    with pytest.raises(ArchiveError) as caught:
        unpack_into(str(archive), "many.zip", str(target), LIMITS)
    assert caught.value.code == "too_large"
    _nothing_left(target, outside)


def _lying_zip(path: Path, real: bytes, claimed: int) -> Path:
    """A one-entry zip whose headers claim ``claimed`` bytes while the deflated data
    inflates to ``real``: the size check in the header lies."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = compressor.compress(real) + compressor.flush()
    crc = zlib.crc32(real)
    name = b"bomb.bin"
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(packed), claimed, len(name), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        20,
        20,
        0,
        8,
        0,
        0,
        crc,
        len(packed),
        claimed,
        len(name),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    body = local + name + packed
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(name), len(body), 0)
    path.write_bytes(body + central + name + end)
    return path


def test_zip_bomb_with_lying_header(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, outside = place
    archive = _lying_zip(tmp_path / "liar.zip", bytes(40 * 2**20), claimed=1024)
    assert archive.stat().st_size < 200_000
    with pytest.raises(ArchiveError) as caught:
        unpack_into(str(archive), "liar.zip", str(target), LIMITS)
    assert caught.value.code in ("too_large", "archive_unsafe")
    _nothing_left(target, outside)


def test_zip_bomb_honest_header(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, outside = place
    archive = _zip(tmp_path / "bomb.zip", {"zeros": bytes(40 * 2**20)})
    with pytest.raises(ArchiveError) as caught:
        unpack_into(str(archive), "bomb.zip", str(target), LIMITS)
    assert caught.value.code == "too_large"
    _nothing_left(target, outside)


def test_not_an_archive(place: tuple[Path, Path], tmp_path: Path) -> None:
    target, outside = place
    fake = tmp_path / "fake.zip"
    fake.write_bytes(os.urandom(1000))
    with pytest.raises(ArchiveError, match="damaged"):
        unpack_into(str(fake), "fake.zip", str(target), LIMITS)
    _nothing_left(target, outside)
