"""Uploads and zips, done as the agent's user: the kernel checks every open.

Uploads. ``upload_start`` creates a hidden part file (``.onestop-upload-<token>.part``,
mode 0600) in the chosen folder, after checking free space and quota for the declared
size; ``upload_open`` hands the portal an open descriptor on it, into which the portal
writes checked chunks at their offsets; ``upload_finish`` checks the size, gives the
file the mode the person's umask asks for and moves it to its final name with the
chosen conflict rule. The part file's size is the upload's whole state, so an upload
survives a restart of the portal (or of this agent): nothing else needs remembering.
A half-uploaded file never carries its final name. Part files are never listed, and
abandoned ones are removed when the next upload starts in their folder.

Names. An upload's ``name`` may hold ``/`` (a file inside an uploaded folder); each
part is checked (no ``..``, ``.``, empty part, NUL, backslash or control character,
at most 255 bytes), and subfolders are created and entered one by one with
``O_NOFOLLOW``, so a symbolic link planted in the chosen folder cannot send the file
elsewhere.

Zips. ``zip_stream`` writes a zip of items of one folder into a pipe from a thread
and returns the pipe's read end at once; the portal streams it to the browser.
Every file is opened here, as the person: a link to something they may not read
fails to open and is skipped; links to folders are skipped too (no loops, and a
folder link can lead anywhere); only plain files are stored (no devices or pipes).
Entries are stored, not compressed: a download must go at disk speed, and most
research data (images, HDF5, archives) does not shrink anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import threading
import time
import unicodedata
import zipfile
from collections.abc import Iterator
from typing import Any

from managers.agent import background
from managers.errors import OperationError
from managers.files import space
from managers.files.operations import _explain, stat_path
from managers.words import size_words

TOKEN = re.compile(r"^[0-9a-f]{32}$")
PART_FILE = re.compile(r"^\.onestop-upload-[0-9a-f]{32}\.part$")
CONFLICTS = ("fail", "replace", "keep-both")
PIPE_SIZE = 1024 * 1024
READ_SIZE = 1024 * 1024
MAX_NAME_BYTES = 255
MAX_COPIES = 999


def check_name(name: str) -> list[str]:
    """The parts of an upload's relative name, or OperationError saying what is wrong."""
    if not name:
        raise OperationError("The file has no name.", kind="EINVAL")
    parts = name.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise OperationError(
                f"The name {name!r} is not allowed: it may not start with / or contain "
                "'..', '.' or empty parts.",
                kind="EINVAL",
            )
        if "\\" in part or any(unicodedata.category(char) == "Cc" for char in part):
            raise OperationError(
                f"The name {name!r} is not allowed: it contains a backslash or a control "
                "character.",
                kind="EINVAL",
            )
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise OperationError(f"The name is too long: {part[:40]}...", kind="ENAMETOOLONG")
    return parts


def is_part_file(name: str) -> bool:
    """Whether ``name`` is an upload's part file: the portal's bookkeeping, never listed."""
    return PART_FILE.fullmatch(name) is not None


def _sweep(dirfd: int, days: int) -> None:
    """Remove this person's part files in the folder untouched for ``days`` (0: never).

    An upload given up without a cancel (a closed tab) leaves its part file behind;
    nothing else would ever remove it, so the next upload into that folder does, as
    the person and without a background job. A paused upload resumed later than this
    finds itself gone and starts again.
    """
    if days <= 0:
        return
    oldest = time.time() - days * 86400
    with contextlib.suppress(OSError), os.scandir(dirfd) as entries:
        for entry in entries:
            if not is_part_file(entry.name):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if (
                    stat.S_ISREG(info.st_mode)
                    and info.st_uid == os.getuid()
                    and info.st_mtime < oldest
                ):
                    os.unlink(entry.name, dir_fd=dirfd)


def _part_name(token: str) -> str:
    if not TOKEN.fullmatch(token):
        raise OperationError("This upload's number is not valid.", kind="EINVAL")
    return f".onestop-upload-{token}.part"


@contextlib.contextmanager
def _folder_of(path: str, name: str, create: bool) -> Iterator[tuple[int, str]]:
    """An open descriptor on the folder the file goes in, and the file's last name.

    ``path`` is the chosen folder (followed: it is what the person chose and policy
    saw); every subfolder below it is entered without following links.
    """
    parts = check_name(name)
    try:
        dirfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise _explain(error, path) from error
    try:
        where = path
        for part in parts[:-1]:
            where = f"{where.rstrip('/')}/{part}"
            try:
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=dirfd)
                inner = os.open(
                    part,
                    os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                    dir_fd=dirfd,
                )
            except OSError as error:
                raise _explain(error, where) from error
            os.close(dirfd)
            dirfd = inner
        yield dirfd, parts[-1]
    finally:
        os.close(dirfd)


def upload_start(
    path: str, name: str, length: int, token: str, conflict: str, abandoned_days: int = 7
) -> dict[str, Any]:
    """Create the empty part file, once the declared size is known to fit; first remove
    part files in that folder untouched for ``abandoned_days`` (see ``_sweep``)."""
    if conflict not in CONFLICTS:
        raise OperationError("Unknown rule for a name that is taken.", kind="EINVAL")
    part = _part_name(token)
    with _folder_of(path, name, create=True) as (dirfd, final):
        _sweep(dirfd, abandoned_days)
        room = space.room(f"/proc/self/fd/{dirfd}")
        if room is not None and length > room:
            raise OperationError(
                f"There is not enough room for this file: it needs {size_words(length)} and "
                f"only {size_words(room)} is free for you there.",
                kind="EDQUOT",
            )
        if conflict == "fail" and _exists(final, dirfd):
            raise OperationError(f"A file called {final!r} is already there.", kind="EEXIST")
        try:
            fd = os.open(
                part,
                os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dirfd,
            )
        except OSError as error:
            raise _explain(error, f"{path}/{name}") from error
        os.close(fd)
    return {"token": token, "offset": 0}


def upload_open(path: str, name: str, token: str) -> int:
    """An open read-write descriptor on this person's part file; the caller owns it."""
    part = _part_name(token)
    with _folder_of(path, name, create=False) as (dirfd, _final):
        try:
            fd = os.open(part, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
        except FileNotFoundError as error:
            raise OperationError(
                "This upload is no longer there (finished, cancelled or removed).",
                kind="ENOENT",
            ) from error
        except OSError as error:
            raise _explain(error, f"{path}/{name}") from error
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        os.close(fd)
        raise OperationError("This upload is no longer there.", kind="ENOENT")
    return fd


def upload_finish(path: str, name: str, token: str, length: int, conflict: str) -> dict[str, Any]:
    """Give the complete part file its final name; the result is the new file's entry."""
    if conflict not in CONFLICTS:
        raise OperationError("Unknown rule for a name that is taken.", kind="EINVAL")
    part = _part_name(token)
    with _folder_of(path, name, create=False) as (dirfd, final):
        try:
            info = os.stat(part, dir_fd=dirfd, follow_symlinks=False)
        except OSError as error:
            raise OperationError("This upload is no longer there.", kind="ENOENT") from error
        if info.st_size != length:
            raise OperationError(
                f"The upload is not complete: {size_words(info.st_size)} of "
                f"{size_words(length)} arrived.",
                kind="EINCOMPLETE",
            )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(part, 0o666 & ~umask, dir_fd=dirfd, follow_symlinks=False)
        chosen = _place(part, final, dirfd, conflict)
    folder = f"{path.rstrip('/')}/{'/'.join(check_name(name)[:-1])}".rstrip("/")
    return stat_path(f"{folder}/{chosen}")


def upload_cancel(path: str, name: str, token: str) -> dict[str, Any]:
    """Remove the part file (an upload given up); removing a gone one is fine."""
    part = _part_name(token)
    with _folder_of(path, name, create=False) as (dirfd, _final):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part, dir_fd=dirfd)
    return {"cancelled": True}


def _place(part: str, final: str, dirfd: int, conflict: str) -> str:
    """Move ``part`` to ``final`` (or "final (1).ext"...); the name it got."""
    if conflict == "replace":
        if _is_folder(final, dirfd):
            raise OperationError(f"A folder called {final!r} is already there.", kind="EISDIR")
        try:
            os.rename(part, final, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        except OSError as error:
            raise _explain(error, final) from error
        return final
    stem, dot, extension = final.rpartition(".")
    if not stem:  # ".bashrc" or "README": the copy number goes at the end
        stem, dot, extension = final, "", ""
    for copy in range(MAX_COPIES + 1 if conflict == "keep-both" else 1):
        candidate = final if copy == 0 else f"{stem} ({copy}){dot}{extension}"
        try:
            # A hard link never replaces anything: it fails if the name appeared.
            os.link(part, candidate, src_dir_fd=dirfd, dst_dir_fd=dirfd, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as error:
            raise _explain(error, candidate) from error
        os.unlink(part, dir_fd=dirfd)
        return candidate
    raise OperationError(f"A file called {final!r} is already there.", kind="EEXIST")


def _exists(name: str, dirfd: int) -> bool:
    try:
        os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _is_folder(name: str, dirfd: int) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


# --- zips ---------------------------------------------------------------------------


def zip_stream(path: str, names: list[str]) -> int:
    """The read end of a pipe that a thread fills with a zip of ``names`` in ``path``.

    Problems found before the first byte (no such folder, not allowed) are raised
    here; later ones end the stream without the zip's closing directory, which the
    portal notices and reports as a failed download.
    """
    for item in names:
        if len(check_name(item)) != 1:
            raise OperationError("Choose items directly inside one folder.", kind="EINVAL")
    try:
        dirfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise _explain(error, path) from error
    for item in names:
        try:
            os.stat(item, dir_fd=dirfd, follow_symlinks=False)
        except OSError as error:
            os.close(dirfd)
            raise _explain(error, f"{path.rstrip('/')}/{item}") from error
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    worker = threading.Thread(
        target=_write_zip, args=(dirfd, names, write_end), name="zip", daemon=True
    )
    background.started()
    worker.start()
    return read_end


def _write_zip(dirfd: int, names: list[str], write_end: int) -> None:
    sink = open(write_end, "wb", buffering=PIPE_SIZE)  # closed below, whatever happens
    archive: zipfile.ZipFile | None = None
    try:
        archive = zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True)
        for item in names:
            _add(archive, dirfd, item, _printable(item))
        archive.close()
    except (OSError, zipfile.LargeZipFile, ValueError, RuntimeError):
        # The reader went away (BrokenPipeError) or a file failed part way: the zip
        # must end without its closing directory, so the portal reports a failed
        # download instead of handing over a complete-looking, truncated zip.
        if archive is not None:
            archive.fp = None
    finally:
        with contextlib.suppress(OSError):
            sink.close()
        os.close(dirfd)
        background.finished()


def _printable(name: str) -> str:
    """A name that is not valid UTF-8 keeps its readable parts (zip names are UTF-8)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _add(archive: zipfile.ZipFile, dirfd: int, name: str, arcname: str) -> None:
    """One entry of a folder: a plain file, or a folder walked without following links."""
    try:
        info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISDIR(info.st_mode):
        try:
            inner = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd
            )
        except OSError:
            return  # a folder she may not open is left out, like the kernel says
        try:
            entry = zipfile.ZipInfo(arcname + "/", _when(info.st_mtime))
            entry.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
            archive.writestr(entry, b"")
            with os.scandir(inner) as listing:
                # An upload under way is not a file of hers yet.
                children = sorted(item.name for item in listing if not is_part_file(item.name))
            for child in children:
                _add(archive, inner, child, f"{arcname}/{_printable(child)}")
        finally:
            os.close(inner)
        return
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        return  # devices, pipes, sockets: not data
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        # A link is followed here, as the person: the kernel refuses what they may not read.
        fd = os.open(name, flags, dir_fd=dirfd)
    except OSError:
        return
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            return  # a link to a folder or a device
        os.set_blocking(fd, True)
        entry = zipfile.ZipInfo(arcname, _when(opened.st_mtime))
        entry.file_size = opened.st_size
        entry.external_attr = (stat.S_IFREG | stat.S_IMODE(opened.st_mode)) << 16
        entry.compress_type = zipfile.ZIP_STORED
        with archive.open(entry, "w", force_zip64=opened.st_size > 0x7FFFFFFF) as out:
            while data := os.read(fd, READ_SIZE):
                out.write(data)
    finally:
        os.close(fd)


def _when(mtime: float) -> tuple[int, int, int, int, int, int]:
    moment = time.localtime(max(mtime, 315532800))  # zip dates start in 1980
    return moment[:6]
