"""Each transfer's private folder, ``~/.onestop/transfers/<id>``: the hand-over point
between her agent (or her Slurm job) and the worker, and between the worker and the
portal.

Only she (and root) may read it: the spec in it may hold a password. So every level
is a folder of hers with mode 0700, a symlink or someone else's folder in the way is
refused (the notebooks' session folders follow the same rule, and this module calls
their check rather than keeping a second copy), and files are opened with
``O_NOFOLLOW`` so a link left in the folder is never written through.

Files in a transfer folder:

- ``spec.json`` (0600): the spec with its secrets, written by the agent and removed
  by the worker as soon as it has read it;
- ``progress.json``: the worker's report, replaced whole (tmp, fsync, rename) so a
  reader never sees half of one;
- ``worker.json``: where the detached worker runs (pid, host), written by the agent;
- ``cancel``: present when she asked to stop;
- ``worker.log``: the worker's standard output and error (never a secret).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pwd
import shutil
import socket
from typing import Any

from managers.data.progress import Progress
from managers.data.spec import TRANSFER_ID
from managers.errors import OperationError
from managers.notebooks.operations import _private_folder

__all__ = [
    "cancel_requested",
    "clear_cancel",
    "forget",
    "path_of",
    "prepare",
    "read_progress",
    "read_worker",
    "request_cancel",
    "take_spec",
    "transfers_root",
    "write_progress",
    "write_spec",
    "write_worker",
]

SPEC = "spec.json"
PROGRESS = "progress.json"
WORKER = "worker.json"
CANCEL = "cancel"
LOG = "worker.log"
# progress.json is small; anything far larger is not one of ours.
MAX_PROGRESS = 8 * 2**20


def _home() -> str:
    return pwd.getpwuid(os.getuid()).pw_dir


def transfers_root() -> str:
    return os.path.join(_home(), ".onestop", "transfers")


def path_of(transfer_id: str) -> str:
    """The folder of one transfer; an id of the wrong form is refused, so no caller
    can make this name a path outside ``transfers_root``."""
    if not TRANSFER_ID.fullmatch(transfer_id):
        raise OperationError("That is not a transfer id.", "invalid")
    return os.path.join(transfers_root(), transfer_id)


def prepare(transfer_id: str) -> str:
    """Her private folder for this transfer (made if missing); returns it."""
    folder = path_of(transfer_id)
    base = _home()
    try:
        for path in (os.path.join(base, ".onestop"), transfers_root(), folder):
            _private_folder(path)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OperationError(
                "Your home folder is full, so the transfer could not be prepared.", "ENOSPC"
            ) from error
        raise OperationError(
            f"The transfer's folder could not be prepared in {base}: {error.strerror}.", "EIO"
        ) from error
    return folder


def _write_private(path: str, data: bytes) -> None:
    """``data`` into ``path`` (0600), replacing whatever file of hers was there, never
    through a link; synced, so a worker started right after reads all of it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_private(path: str, limit: int = MAX_PROGRESS) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            raise OperationError(f"{path} is not yours, so it is not read.", "EACCES")
        chunks = []
        total = 0
        while chunk := os.read(fd, 65536):
            total += len(chunk)
            if total > limit:
                raise OperationError(f"{path} is far too large to be a transfer's file.")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_spec(folder: str, wire: dict[str, Any]) -> None:
    """The spec, secrets in clear, as a 0600 file only she can read."""
    _write_private(os.path.join(folder, SPEC), json.dumps(wire).encode())


def take_spec(folder: str) -> dict[str, Any]:
    """Read the spec and remove it at once: its secrets now live only in this process.

    Raises OperationError when there is none (already taken: a second worker for the
    same transfer must not run).
    """
    path = os.path.join(folder, SPEC)
    try:
        raw = _read_private(path)
    except FileNotFoundError as error:
        raise OperationError("This transfer's instructions are gone.", "ENOENT") from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise OperationError("This transfer's instructions are unreadable.")
    return value


def _replace(folder: str, name: str, data: bytes) -> None:
    """Write ``name`` whole: a temporary file, synced, renamed over the old one."""
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    _write_private(tmp, data)
    os.rename(tmp, os.path.join(folder, name))


def write_progress(folder: str, progress: Progress) -> None:
    _replace(folder, PROGRESS, progress.model_dump_json().encode())


def read_progress(folder: str) -> dict[str, Any] | None:
    """The last progress written (as JSON values), or None when there is none yet or
    it cannot be read (the portal then decides from whether the worker lives)."""
    try:
        value = json.loads(_read_private(os.path.join(folder, PROGRESS)))
    except (OSError, ValueError, OperationError):
        return None
    if not isinstance(value, dict):
        return None
    return value


def write_worker(folder: str, pid: int) -> None:
    where = {"pid": pid, "host": socket.gethostname()}
    _replace(folder, WORKER, json.dumps(where).encode())


def read_worker(folder: str) -> dict[str, Any] | None:
    try:
        value = json.loads(_read_private(os.path.join(folder, WORKER)))
    except (OSError, ValueError, OperationError):
        return None
    return value if isinstance(value, dict) else None


def request_cancel(folder: str) -> None:
    _write_private(os.path.join(folder, CANCEL), b"cancel\n")


def cancel_requested(folder: str) -> bool:
    return os.path.lexists(os.path.join(folder, CANCEL))


def clear_cancel(folder: str) -> None:
    """A retry starts without the cancel of the previous run."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(folder, CANCEL))


def forget(transfer_id: str) -> bool:
    """Remove the folder (never what a link in its place names); False if none."""
    path = path_of(transfer_id)
    if os.path.islink(path):
        os.unlink(path)
        return True
    if not os.path.isdir(path):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True
