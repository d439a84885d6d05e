"""Unpacking a downloaded .zip or .tar(.gz/.bz2/.xz) into her folder, safely.

An archive is written by someone else and may be hostile: entries named
``../../.bashrc`` or ``/etc/x`` (zip-slip), links that point out of the folder so a
later entry writes through them, device files, or a few kilobytes that inflate to
terabytes (a bomb, with sizes in its headers that lie). So:

- every entry's name must stay inside; absolute names and ``..`` are refused;
- nothing is written through a link: each file's folder must really (``realpath``)
  be inside, and the file is created with ``O_NOFOLLOW``; once all is written every
  symbolic link must resolve inside, and a hard link may only name an earlier entry;
- devices, fifos and sockets are refused;
- the bytes really decompressed are counted as they are written, so a bomb stops at
  ``max_unpack_bytes`` (or ``max_unpack_files``) whatever its headers say;
- it all goes into a hidden folder inside the target first; only when the whole
  archive is in and checked are its top entries moved into place, so a refusal
  leaves nothing half-unpacked.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from managers.data.context import TransferError, unique_name
from managers.data.spec import Limits

__all__ = ["ArchiveError", "kind_of", "unpack", "unpack_into"]

CHUNK = 1 << 20
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


class ArchiveError(TransferError):
    """An archive refused: ``archive_unsafe`` or ``too_large``."""


def kind_of(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith(".zip"):
        return "zip"
    if lowered.endswith(TAR_SUFFIXES):
        return "tar"
    return None


def _unsafe(message: str) -> ArchiveError:
    return ArchiveError("archive_unsafe", f"The archive was not unpacked: {message}")


class _Unpacker:
    """Writes entries under ``root``, keeping count and refusing what is unsafe."""

    def __init__(self, root: str, limits: Limits, progress: Callable[[int], None] | None) -> None:
        self.root = os.path.realpath(root)
        self.limits = limits
        self.progress = progress
        self.bytes = 0
        self.files = 0
        self.links: list[str] = []

    def relative(self, name: str) -> str:
        """The entry's path relative to the root, or refused."""
        if "\x00" in name or "\\" in name:
            raise _unsafe(f"the entry {name!r} has a name that is not allowed.")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise _unsafe(f"the entry {name!r} would be written outside the folder.")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if any(part == ".." for part in parts):
            raise _unsafe(f"the entry {name!r} would be written outside the folder.")
        return "/".join(parts)

    def _inside(self, path: str) -> bool:
        real = os.path.realpath(path)
        return real == self.root or real.startswith(self.root + os.sep)

    def count_file(self) -> None:
        self.files += 1
        if self.files > self.limits.max_unpack_files:
            raise ArchiveError(
                "too_large",
                f"The archive has more than {self.limits.max_unpack_files:,} entries, the "
                "site's limit, so it was not unpacked.",
            )

    def count_bytes(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.limits.max_unpack_bytes:
            raise ArchiveError(
                "too_large",
                f"The archive unpacks to more than {self.limits.max_unpack_bytes:,} bytes, the "
                "site's limit, so it was not unpacked.",
            )
        if self.progress is not None:
            self.progress(count)

    def folder(self, relative: str) -> str:
        """Make the folder ``relative`` (and its parents), never through a link."""
        path = self.root
        for part in relative.split("/") if relative else []:
            path = os.path.join(path, part)
            if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
                raise _unsafe(f"the entry {relative!r} goes through a link or a file.")
            if not os.path.isdir(path):
                os.mkdir(path)
        if not self._inside(path):
            raise _unsafe(f"the entry {relative!r} would be written outside the folder.")
        return path

    def file(self, relative: str, source: IO[bytes], mode: int) -> None:
        self.count_file()
        parent, _, base = relative.rpartition("/")
        directory = self.folder(parent)
        path = os.path.join(directory, base)
        if os.path.lexists(path):
            if os.path.isdir(path) and not os.path.islink(path):
                raise _unsafe(f"the entry {relative!r} is both a folder and a file.")
            os.unlink(path)
        fd = os.open(
            path,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            (mode & 0o777) or 0o644,
        )
        with os.fdopen(fd, "wb") as target:
            while chunk := source.read(CHUNK):
                self.count_bytes(len(chunk))
                target.write(chunk)

    def symlink(self, relative: str, target: str) -> None:
        self.count_file()
        if target.startswith("/") or "\x00" in target:
            raise _unsafe(f"the link {relative!r} points outside the folder.")
        parent, _, base = relative.rpartition("/")
        # Lexically first (cheap, and the usual attack); really at the end (links
        # made later may change where this one leads).
        if posixpath.normpath(posixpath.join("/", parent, target)).startswith("/.."):
            raise _unsafe(f"the link {relative!r} points outside the folder.")
        path = os.path.join(self.folder(parent), base)
        if os.path.lexists(path):
            raise _unsafe(f"the entry {relative!r} appears twice.")
        os.symlink(target, path)
        self.links.append(path)

    def hardlink(self, relative: str, target: str) -> None:
        """Only to an earlier regular file of the archive itself."""
        self.count_file()
        source = os.path.join(self.root, self.relative(target))
        if (
            not os.path.lexists(source)
            or os.path.islink(source)
            or not stat.S_ISREG(os.lstat(source).st_mode)
            or not self._inside(source)
        ):
            raise _unsafe(f"the hard link {relative!r} points outside the archive.")
        parent, _, base = relative.rpartition("/")
        path = os.path.join(self.folder(parent), base)
        if os.path.lexists(path):
            raise _unsafe(f"the entry {relative!r} appears twice.")
        os.link(source, path, follow_symlinks=False)

    def check_links(self) -> None:
        for path in self.links:
            if not self._inside(path):
                name = os.path.relpath(path, self.root)
                raise _unsafe(f"the link {name!r} points outside the folder.")


def _zip(archive: str, unpacker: _Unpacker) -> None:
    with zipfile.ZipFile(archive) as bundle:
        entries = bundle.infolist()
        declared = sum(entry.file_size for entry in entries)
        if declared > unpacker.limits.max_unpack_bytes:
            unpacker.count_bytes(declared)  # refuses at once, before writing anything
        for entry in entries:
            relative = unpacker.relative(entry.filename)
            mode = entry.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if entry.is_dir():
                unpacker.count_file()
                unpacker.folder(relative)
            elif kind == stat.S_IFLNK:
                target = bundle.read(entry, pwd=None)[:4096].decode("utf-8", "replace")
                unpacker.symlink(relative, target)
            elif kind in (0, stat.S_IFREG):
                if not relative:
                    raise _unsafe("an entry has no name.")
                with bundle.open(entry) as source:
                    unpacker.file(relative, source, mode)
            else:
                raise _unsafe(f"the entry {entry.filename!r} is a device or another special file.")


def _tar(archive: str, unpacker: _Unpacker) -> None:
    with tarfile.open(archive, "r:*") as bundle:
        for member in bundle:
            relative = unpacker.relative(member.name)
            if member.isdir():
                unpacker.count_file()
                unpacker.folder(relative)
            elif member.issym():
                unpacker.symlink(relative, member.linkname)
            elif member.islnk():
                unpacker.hardlink(relative, member.linkname)
            elif member.isreg():
                if not relative:
                    raise _unsafe("an entry has no name.")
                if unpacker.bytes + member.size > unpacker.limits.max_unpack_bytes:
                    unpacker.count_bytes(member.size)
                source = bundle.extractfile(member)
                assert source is not None
                with source:
                    unpacker.file(relative, source, member.mode)
            else:
                raise _unsafe(f"the entry {member.name!r} is a device or another special file.")


@contextlib.contextmanager
def _scratch(target: str, label: str) -> Iterator[str]:
    """A hidden folder inside ``target``, removed whatever happens."""
    path = os.path.join(target, f".onestop-{label}-unpack.partial")
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    os.mkdir(path, 0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def unpack_into(
    archive: str,
    name: str,
    target: str,
    limits: Limits,
    progress: Callable[[int], None] | None = None,
    label: str = "archive",
) -> list[str]:
    """Unpack ``archive`` (called ``name``, which says its kind) into ``target``; the
    names of what now stands in ``target``. ArchiveError when refused; nothing of it
    is left in ``target`` then."""
    kind = kind_of(name)
    if kind is None:
        raise _unsafe(f"{name} is not a .zip or .tar archive.")
    with _scratch(target, label) as scratch:
        unpacker = _Unpacker(scratch, limits, progress)
        try:
            (_zip if kind == "zip" else _tar)(archive, unpacker)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zipfile.LargeZipFile) as error:
            raise _unsafe(f"{name} is damaged or not an archive ({error}).") from error
        except (NotImplementedError, RuntimeError) as error:  # encrypted, odd compression
            raise _unsafe(f"{name} uses something that cannot be unpacked ({error}).") from error
        unpacker.check_links()
        placed = []
        for entry in sorted(os.listdir(scratch)):
            final = unique_name(target, entry)
            os.rename(os.path.join(scratch, entry), os.path.join(target, final))
            placed.append(final)
        return placed


def unpack(archive: str, name: str, target: str, work: Any) -> list[str]:
    """``unpack_into`` for a worker's transfer: counted as its progress (so cancel and
    the disk's room apply while unpacking) and under its limits."""
    return unpack_into(
        archive,
        name,
        target,
        work.spec.limits,
        progress=lambda count: work.counted(count, os.path.join(target, "x"), moved=False),
        label=work.spec.id,
    )
