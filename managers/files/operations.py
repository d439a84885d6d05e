"""File operations as the agent's user. The kernel decides what is allowed.

Each function takes plain JSON-able arguments and returns a JSON-able result, or
raises OperationError with a sentence a person can read. Paths arrive already
canonical (absolute, no ``..``) from the verb gate; symlinks are followed, because
the kernel checks the final target as this user anyway, except by ``copy``, which
copies a link as a link.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from typing import Any

from managers.errors import OperationError
from managers.execution.operations import run_as_job_step

MAX_WRITE = 8 * 1024 * 1024


def _explain(error: OSError, path: str) -> OperationError:
    """The kernel's refusal, in words; the errno name stays available as ``kind``."""
    words = {
        "EACCES": "You do not have permission to do that with",
        "EPERM": "You do not have permission to do that with",
        "ENOENT": "There is no file or folder at",
        "ENOTDIR": "A part of this path is not a folder:",
        "EISDIR": "This is a folder, not a file:",
        "ENOSPC": "The disk is full; nothing was written to",
        "EDQUOT": "Your disk quota is full; nothing was written to",
        "ENAMETOOLONG": "The name is too long:",
        "ELOOP": "Too many symbolic links lead to",
        "EEXIST": "Something with that name already exists:",
    }
    name = errno.errorcode.get(error.errno or 0, "EIO")
    return OperationError(f"{words.get(name, 'Could not use')} {path}", kind=name)


def _entry(path: str, info: os.stat_result, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "kind": "folder" if stat.S_ISDIR(info.st_mode) else "file",
        "size": info.st_size,
        "mode": stat.S_IMODE(info.st_mode),
        "uid": info.st_uid,
        "gid": info.st_gid,
        "modified": info.st_mtime,
    }


def stat_path(path: str) -> dict[str, Any]:
    try:
        return _entry(path, os.stat(path), os.path.basename(path) or "/")
    except OSError as error:
        raise _explain(error, path) from error


def list_folder(path: str, offset: int = 0, limit: int = 1000) -> dict[str, Any]:
    """One page of a folder, in directory order: nothing reads the whole folder first.

    Columns, not one object per entry: a thousand-entry page is then a handful of
    arrays, about half the bytes and a fraction of the decoding work of 1,000 objects.
    """
    columns: dict[str, list[Any]] = {
        key: [] for key in ("names", "kinds", "sizes", "modes", "uids", "gids", "modified")
    }
    more = False
    try:
        with os.scandir(path) as listing:
            for index, item in enumerate(listing):
                if index < offset:
                    continue
                if len(columns["names"]) == limit:
                    more = True
                    break
                try:
                    info = item.stat()
                except OSError:
                    info = item.stat(follow_symlinks=False)
                columns["names"].append(item.name)
                columns["kinds"].append("folder" if stat.S_ISDIR(info.st_mode) else "file")
                columns["sizes"].append(info.st_size)
                columns["modes"].append(stat.S_IMODE(info.st_mode))
                columns["uids"].append(info.st_uid)
                columns["gids"].append(info.st_gid)
                columns["modified"].append(info.st_mtime)
    except OSError as error:
        raise _explain(error, path) from error
    return {"path": path, "more": more, **columns}


def open_for_reading(path: str) -> int:
    """An open descriptor, checked by the kernel as this user; the caller owns it."""
    # Non-blocking open so a named pipe cannot hang the agent; only plain files pass.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as error:
        raise _explain(error, path) from error
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise OperationError(f"This is a folder, not a file: {path}", kind="EISDIR")
        raise OperationError(f"This is not a plain file: {path}", kind="ENOTREG")
    os.set_blocking(fd, True)
    return fd


def write_file(path: str, content: str, replace: bool = False) -> dict[str, Any]:
    """Write all of ``content`` or nothing: a temporary file in the same folder is
    renamed into place, so no half-written file ever carries the final name."""
    data = content.encode()
    if len(data) > MAX_WRITE:
        raise OperationError("This text is too large to save here.", kind="EFBIG")
    folder = os.path.dirname(path) or "/"
    if not replace and os.path.lexists(path):
        raise OperationError(f"A file with that name already exists: {path}", kind="EEXIST")
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".onestop-", suffix=".part")
    except OSError as error:
        raise _explain(error, path) from error
    try:
        # mkstemp makes 0600; give the file the mode the user's umask asks for.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the name appeared meanwhile
            os.unlink(temporary)
    except OSError as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise _explain(error, path) from error
    return stat_path(path)


def _not_data(folder: str, names: list[str]) -> set[str]:
    """The names in ``folder`` that are pipes, sockets or devices (copytree's ignore)."""
    left_out = set()
    for name in names:
        try:
            mode = os.lstat(os.path.join(folder, name)).st_mode
        except OSError:
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            left_out.add(name)
    return left_out


def copy(path: str, destination: str, offload_partition: str = "") -> dict[str, Any]:
    """Copy a file or a folder; never onto an existing name.

    A symbolic link is copied as a link (its target's name, as it is), never
    followed: what ``cp -a``, GNOME Files and macOS Finder do, and the only rule
    that a link swapped in at the last moment cannot turn into a copy of something
    else. Links inside a copied folder are copied as links too. The item is opened
    once without following (``O_PATH|O_NOFOLLOW``) and copied from that descriptor,
    so the name cannot change what is copied half-way either. Pipes, sockets and
    devices are not data: refused when chosen, left out of a folder (as from a zip).

    A large copy is heavy work. With ``offload_partition`` it runs as a one-task
    Slurm job (``srun cp -a``, which copies links as links too) on a compute node
    instead of on the login node; Slurm's own accounting then shows it, as this
    user's job.
    """
    if os.path.lexists(destination):
        raise OperationError(f"Something with that name already exists: {destination}", "EEXIST")
    if (destination + "/").startswith(path.rstrip("/") + "/"):
        raise OperationError("A folder cannot be copied into itself.", "EINVAL")
    if offload_partition:
        run_as_job_step(
            ["cp", "-a", "--", path, destination], offload_partition, "onestop-files.copy"
        )
        return stat_path(destination)
    try:
        fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise _explain(error, path) from error
    try:
        mode = os.fstat(fd).st_mode
        pinned = f"/proc/self/fd/{fd}"  # the item opened above, whatever the name is now
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink("", dir_fd=fd), destination)
            # The new link's entry: its target's, or its own where that is not there.
            name = os.path.basename(destination)
            try:
                return _entry(destination, os.stat(destination), name)
            except OSError:
                return _entry(destination, os.lstat(destination), name)
        elif stat.S_ISDIR(mode):
            shutil.copytree(pinned, destination, symlinks=True, ignore=_not_data)
        elif stat.S_ISREG(mode):
            shutil.copy2(pinned, destination)
        else:
            raise OperationError(
                f"Only files, folders and links can be copied; {path} is not one.", "EINVAL"
            )
    except OSError as error:
        raise _explain(error, path) from error
    finally:
        os.close(fd)
    return stat_path(destination)
    try:
        if os.path.isdir(path):
            shutil.copytree(path, destination, symlinks=True)
        else:
            shutil.copy2(path, destination, follow_symlinks=False)
    except OSError as error:
        raise _explain(error, path) from error
    return stat_path(destination)
