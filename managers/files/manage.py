"""Folder work as the agent's user: new folders and files, move, copy, the trash,
saving with a conflict check, and disk usage.

Paths arrive canonical from the verb gate; the kernel decides as this user. Name
clashes follow one policy everywhere (``on_conflict``): ``fail`` (say so, change
nothing), ``keep-both`` (the new one becomes "name (2).txt") or ``replace`` (the old
one goes to the trash first, so even a replace can be undone).

The trash is the freedesktop.org Trash specification's: ``~/.local/share/Trash``
with ``files/`` and ``info/<name>.trashinfo`` (the original path and the deletion
time), so desktop file managers on the same home see the same trash. Something on
another filesystem goes to that filesystem's ``<top>/.Trash-<uid>``, as the
specification says, instead of being copied into the home folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import os
import pwd
import shutil
import stat
import tempfile
import time
from typing import Any
from urllib.parse import quote, unquote

from managers.errors import OperationError
from managers.files import operations, space
from managers.files.operations import _explain, stat_path

CONFLICTS = ("fail", "keep-both", "replace")
MAX_SAVE = operations.MAX_WRITE
USAGE_SECONDS = 2.0

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _rename_noreplace(source: str, target: str) -> None:
    """rename(2) that refuses to overwrite (renameat2 RENAME_NOREPLACE): a name that
    appears between our check and the rename is never silently replaced."""
    done = _libc.renameat2(
        _AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE
    )
    if done != 0:
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS):  # a filesystem without the flag
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, "exists", target)
            os.rename(source, target)
            return
        raise OSError(code, os.strerror(code), source)


def _check_conflict(on_conflict: str) -> None:
    if on_conflict not in CONFLICTS:
        raise OperationError(f"Unknown choice {on_conflict!r} for a name clash.", "invalid")


def _exists(path: str, what: str) -> OperationError:
    folder, name = os.path.split(path)
    return OperationError(f"{what} called “{name}” already exists in {folder}.", kind="EEXIST")


def free_name(path: str) -> str:
    """``path`` itself if nothing has that name, else "name (2).ext", "name (3).ext"..."""
    if not os.path.lexists(path):
        return path
    folder, name = os.path.split(path)
    stem, dot, ending = name.partition(".") if not name.startswith(".") else (name, "", "")
    for number in range(2, 10_000):
        candidate = os.path.join(folder, f"{stem} ({number}){dot}{ending}")
        if not os.path.lexists(candidate):
            return candidate
    raise OperationError(f"Too many copies of {name!r} in {folder}.", kind="EEXIST")


def _make_room(path: str, on_conflict: str, what: str) -> str:
    """Where the new thing goes under ``on_conflict`` (the trash takes a replaced one)."""
    _check_conflict(on_conflict)
    if not os.path.lexists(path):
        return path
    if on_conflict == "keep-both":
        return free_name(path)
    if on_conflict == "replace":
        trash(path)
        return path
    raise _exists(path, what)


def make_folder(path: str, on_conflict: str = "fail") -> dict[str, Any]:
    target = _make_room(path, "fail" if on_conflict == "replace" else on_conflict, "A folder")
    try:
        os.mkdir(target)
    except FileExistsError as error:
        raise _exists(target, "Something") from error
    except OSError as error:
        raise _explain(error, target) from error
    return stat_path(target)


def create_file(path: str, on_conflict: str = "fail") -> dict[str, Any]:
    """An empty file; O_EXCL, so an existing one is never truncated by a race."""
    target = _make_room(path, "fail" if on_conflict == "replace" else on_conflict, "A file")
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
    except FileExistsError as error:
        raise _exists(target, "Something") from error
    except OSError as error:
        raise _explain(error, target) from error
    return stat_path(target)


def _inside(path: str, folder: str) -> bool:
    return (path.rstrip("/") + "/").startswith(folder.rstrip("/") + "/")


def move(path: str, destination: str, on_conflict: str = "fail") -> dict[str, Any]:
    """Rename or move ``path`` to the full new path ``destination``."""
    _check_conflict(on_conflict)
    if path == destination:
        return stat_path(path)
    if not os.path.lexists(path):
        raise OperationError(f"There is no file or folder at {path}", kind="ENOENT")
    if _inside(destination, path):
        raise OperationError("A folder cannot be moved into itself.", "EINVAL")
    target = _make_room(destination, on_conflict, "Something")
    try:
        _rename_noreplace(path, target)
    except FileExistsError as error:
        raise _exists(target, "Something") from error
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise _explain(error, path) from error
        # Another filesystem: copy, then remove the original only once the copy is whole.
        copied = operations.copy(path, target)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError as removal:
            raise OperationError(
                f"Copied to {target}, but the original could not be removed: {path}",
                kind="partial",
            ) from removal
        return copied
    return stat_path(target)


def copy_item(
    path: str, destination: str, on_conflict: str = "fail", offload_partition: str = ""
) -> dict[str, Any]:
    """files.copy with the name-clash choice; the copying itself is operations.copy."""
    if not os.path.lexists(path):
        raise OperationError(f"There is no file or folder at {path}", kind="ENOENT")
    if _inside(destination, path):
        raise OperationError("A folder cannot be copied into itself.", "EINVAL")
    target = _make_room(destination, on_conflict, "Something")
    return operations.copy(path, target, offload_partition)


# ---------------------------------------------------------------- the trash


def home() -> str:
    return pwd.getpwuid(os.getuid()).pw_dir


def home_trash() -> str:
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(home(), ".local", "share")
    return os.path.join(data, "Trash")


def _trash_for(path: str) -> str:
    """The home trash, or the top directory's ``.Trash-<uid>`` on another filesystem."""
    trash_dir = home_trash()
    try:
        os.makedirs(trash_dir, mode=0o700, exist_ok=True)
        same = os.lstat(path).st_dev == os.stat(trash_dir).st_dev
    except OSError as error:
        raise _explain(error, path) from error
    if same:
        return trash_dir
    return os.path.join(space.mount_point(os.path.dirname(path)), f".Trash-{os.getuid()}")


def _all_trashes() -> list[str]:
    """The home trash and any ``.Trash-<uid>`` this user has at a mount point."""
    found = [home_trash()]
    with contextlib.suppress(OSError), open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) < 2:
                continue
            point = fields[1].replace("\\040", " ")
            candidate = os.path.join(point, f".Trash-{os.getuid()}")
            with contextlib.suppress(OSError):
                if os.lstat(candidate).st_uid == os.getuid() and candidate not in found:
                    found.append(candidate)
    return found


def trash(path: str) -> dict[str, Any]:
    """Move ``path`` into the trash; returns the trash entry (see ``list_trash``)."""
    if path in ("/", home()):
        raise OperationError("Your home folder itself cannot go to the trash.", "EINVAL")
    if not os.path.lexists(path):
        raise OperationError(f"There is no file or folder at {path}", kind="ENOENT")
    trash_dir = _trash_for(path)
    if _inside(path, trash_dir):
        raise OperationError("This is already in the trash.", "EINVAL")
    files, info = os.path.join(trash_dir, "files"), os.path.join(trash_dir, "info")
    try:
        os.makedirs(files, mode=0o700, exist_ok=True)
        os.makedirs(info, mode=0o700, exist_ok=True)
    except OSError as error:
        raise _explain(error, trash_dir) from error
    base = os.path.basename(path)
    when = time.strftime("%Y-%m-%dT%H:%M:%S")
    record = f"[Trash Info]\nPath={quote(path)}\nDeletionDate={when}\n".encode()
    for number in range(1, 10_000):
        name = base if number == 1 else f"{base}.{number}"
        info_path = os.path.join(info, name + ".trashinfo")
        try:  # the info file reserves the name (O_EXCL), as the specification asks
            fd = os.open(info_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        except OSError as error:
            raise _explain(error, path) from error
        with os.fdopen(fd, "wb") as handle:
            handle.write(record)
        try:
            _rename_noreplace(path, os.path.join(files, name))
        except OSError as error:
            os.unlink(info_path)
            if isinstance(error, FileExistsError):
                continue  # a stray file without info: try the next name
            raise _explain(error, path) from error
        return _trash_entry(trash_dir, name)
    raise OperationError("The trash has too many things of this name.", "EEXIST")


def _read_info(info_path: str) -> tuple[str, str]:
    original, deleted = "", ""
    with open(info_path, encoding="utf-8", errors="replace") as handle:
        for line in handle.read(16384).splitlines():
            key, _, value = line.partition("=")
            if key == "Path":
                original = unquote(value)
            elif key == "DeletionDate":
                deleted = value
    return original, deleted


def _trash_entry(trash_dir: str, name: str) -> dict[str, Any]:
    item = os.path.join(trash_dir, "files", name)
    original, deleted = _read_info(os.path.join(trash_dir, "info", name + ".trashinfo"))
    if original and not original.startswith("/"):  # relative to a top directory trash
        original = os.path.join(os.path.dirname(trash_dir), original)
    info = os.lstat(item)
    return {
        "path": item,
        "name": os.path.basename(original) or name,
        "original": original,
        "deleted": deleted,
        "kind": "folder" if stat.S_ISDIR(info.st_mode) else "file",
        "size": info.st_size,
    }


def list_trash(limit: int = 1000) -> dict[str, Any]:
    """What is in her trashes, newest first (at most ``limit``)."""
    items: list[dict[str, Any]] = []
    for trash_dir in _all_trashes():
        with (
            contextlib.suppress(FileNotFoundError),
            os.scandir(os.path.join(trash_dir, "info")) as infos,
        ):
            for entry in infos:
                if not entry.name.endswith(".trashinfo"):
                    continue
                with contextlib.suppress(OSError):
                    items.append(_trash_entry(trash_dir, entry.name.removesuffix(".trashinfo")))
    items.sort(key=lambda item: str(item["deleted"]), reverse=True)
    return {"items": items[: max(1, min(int(limit), 5000))], "total": len(items)}


def _trashed(path: str) -> tuple[str, str]:
    """(trash folder, name) for a path in one of her trashes' ``files/``, else refuse."""
    folder, name = os.path.split(path)
    trash_dir = os.path.dirname(folder)
    if (
        os.path.basename(folder) != "files"
        or trash_dir not in _all_trashes()
        or not os.path.lexists(os.path.join(trash_dir, "info", name + ".trashinfo"))
    ):
        raise OperationError("This is not something in your trash.", "ENOENT")
    return trash_dir, name


def restore(path: str, on_conflict: str = "fail") -> dict[str, Any]:
    """Put a trashed item back where it was (``on_conflict`` if that name is taken)."""
    trash_dir, name = _trashed(path)
    entry = _trash_entry(trash_dir, name)
    original = str(entry["original"])
    if not original:
        raise OperationError("The trash does not say where this came from.", "invalid")
    target = _make_room(original, on_conflict, "Something")
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        _rename_noreplace(path, target)
    except FileExistsError as error:
        raise _exists(target, "Something") from error
    except OSError as error:
        raise _explain(error, target) from error
    os.unlink(os.path.join(trash_dir, "info", name + ".trashinfo"))
    return stat_path(target)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def purge(path: str) -> dict[str, Any]:
    """Delete one trashed item for good."""
    trash_dir, name = _trashed(path)
    try:
        _remove(path)
        os.unlink(os.path.join(trash_dir, "info", name + ".trashinfo"))
    except OSError as error:
        raise _explain(error, path) from error
    return {"removed": 1}


def empty_trash() -> dict[str, Any]:
    """Delete everything in her trashes for good; returns how many items went."""
    removed = 0
    for trash_dir in _all_trashes():
        for part in ("files", "info"):
            folder = os.path.join(trash_dir, part)
            with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        _remove(entry.path)
                    except OSError as error:
                        raise _explain(error, entry.path) from error
                    removed += part == "files"
    return {"removed": removed}


# ---------------------------------------------------------------- the editor


def save_text(path: str, content: str, expected_sha256: str = "") -> dict[str, Any]:
    """Save ``content`` over the version she opened, or refuse with kind "conflict".

    ``expected_sha256`` is the SHA-256 of the bytes she was shown ("" for a file that
    did not exist): if the file now holds anything else, someone changed it meanwhile
    and nothing is written. The new text replaces the file atomically and keeps its
    permissions (an executable script stays executable).
    """
    data = content.encode()
    if len(data) > MAX_SAVE:
        raise OperationError("This text is too large to save here.", kind="EFBIG")
    try:
        with open(path, "rb") as handle:
            current: str | None = hashlib.sha256(handle.read(MAX_SAVE + 1)).hexdigest()
            mode: int | None = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
    except FileNotFoundError:
        current, mode = None, None
    except OSError as error:
        raise _explain(error, path) from error
    if (current or "") != expected_sha256:
        raise OperationError(
            "Someone changed this file after you opened it. Nothing was saved.", kind="conflict"
        )
    folder = os.path.dirname(path) or "/"
    try:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".onestop-", suffix=".part")
    except OSError as error:
        raise _explain(error, path) from error
    try:
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise _explain(error, path) from error
    return {**stat_path(path), "sha256": hashlib.sha256(data).hexdigest()}


# ---------------------------------------------------------------- disk usage


def usage(path: str, seconds: float = USAGE_SECONDS) -> dict[str, Any]:
    """How much ``path`` holds (walked for at most ``seconds``; ``complete`` says
    whether the walk finished), the filesystem's size and free space, and the quota
    if the system reports one. Sizes are disk blocks, as ``du`` counts them."""
    deadline = time.monotonic() + max(0.1, min(float(seconds), 10.0))
    used, count, complete = 0, 0, True
    pending = [path]
    seen: set[tuple[int, int]] = set()
    while pending:
        if time.monotonic() > deadline:
            complete = False
            break
        folder = pending.pop()
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    if info.st_nlink > 1:  # a hard-linked file counts once, like du
                        if (info.st_dev, info.st_ino) in seen:
                            continue
                        seen.add((info.st_dev, info.st_ino))
                    used += info.st_blocks * 512
                    count += 1
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
    try:
        fs = os.statvfs(path)
    except OSError as error:
        raise _explain(error, path) from error
    limits = space.quota(path)
    return {
        "path": path,
        "used": used,
        "entries": count,
        "complete": complete,
        "disk_size": fs.f_blocks * fs.f_frsize,
        "disk_free": fs.f_bavail * fs.f_frsize,
        "quota_used": limits[0] if limits else None,
        "quota_limit": limits[1] if limits else None,
    }
