"""What a source module is given to do one transfer: the spec, the guard, and the
bookkeeping every kind shares (progress, cancel, room on disk, partial files).

Sources differ in protocol only; the rules that make a transfer safe for her (no
half-written file in her folder, nothing written past her quota or the site's
reserve, a cancel honoured within a chunk, "verified" only when a check ran) live
here once, so no source can forget one.

Thread-safe: fsspec sources run their blocking reads in threads while the event loop
and the progress writer carry on.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from managers.data.guard import Guard
from managers.data.progress import Check, Progress, TransferState
from managers.data.spec import TransferSpec
from managers.files.space import quota

__all__ = ["Cancelled", "Sink", "TransferError", "Work", "unique_name"]

MEMO = "memo.json"
SPACE_EVERY_BYTES = 16 * 2**20
QUOTA_EVERY_SECONDS = 5.0
MAX_RESULTS = 1000
MAX_CHECKS = 10_000


class TransferError(Exception):
    """A transfer that cannot go on: ``code`` from progress.py, ``message`` plain."""

    def __init__(
        self, code: str, message: str, key: str | None = None, fingerprint: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # host_key_unknown: the key the server offered and its fingerprint.
        self.key = key
        self.fingerprint = fingerprint


class Cancelled(Exception):
    """She asked to stop (a ``cancel`` file, or SIGTERM)."""


def unique_name(folder: str, name: str) -> str:
    """``name``, or ``name (2)``... when something of hers already has it: a transfer
    never replaces a file she has."""
    if not os.path.lexists(os.path.join(folder, name)):
        return name
    stem, dot, suffix = name.partition(".") if not name.startswith(".") else (name, "", "")
    for number in range(2, 10_000):
        candidate = f"{stem} ({number}){dot}{suffix}"
        if not os.path.lexists(os.path.join(folder, candidate)):
            return candidate
    raise TransferError("failed", f"There are too many files called {name} already.")


class Work:
    """One transfer's shared state; the worker builds it, sources use it."""

    def __init__(self, spec: TransferSpec, folder: str, guard: Guard) -> None:
        self.spec = spec
        self.folder = folder
        self.guard = guard
        self.cancelled = threading.Event()
        self.lock = threading.Lock()
        self.state = TransferState.WAITING
        self.message: str | None = None
        self.bytes_done = 0
        self.bytes_total: int | None = None
        self.files_done = 0
        self.files_total: int | None = None
        self.current: str | None = None
        self.checks: list[Check] = []
        self.results: list[str] = []
        self.partials: set[str] = set()
        # An upload under way (file system, remote partial name), removed on failure.
        self.remote_partial: tuple[Any, str] | None = None
        self.started_at = time.time()
        self._since_space = 0
        self._quota_at = 0.0
        self._memo: dict[str, Any] = self._load_memo()

    # -- progress -----------------------------------------------------------------

    def set_state(self, state: TransferState, message: str | None = None) -> None:
        with self.lock:
            self.state = state
            self.message = message

    def set_totals(self, bytes_total: int | None, files_total: int | None) -> None:
        with self.lock:
            self.bytes_total = bytes_total
            self.files_total = files_total

    def begin(self, name: str) -> None:
        with self.lock:
            self.current = name

    def finished(self, check: Check, result: str | None = None) -> None:
        """One file is in place (or sent) and was checked as ``check`` says."""
        with self.lock:
            self.files_done += 1
            if len(self.checks) < MAX_CHECKS:
                self.checks.append(check)
            if result is not None and len(self.results) < MAX_RESULTS:
                self.results.append(result)

    def add_result(self, result: str) -> None:
        with self.lock:
            if len(self.results) < MAX_RESULTS:
                self.results.append(result)

    def snapshot(self, **extra: Any) -> Progress:
        with self.lock:
            return Progress(
                state=self.state,
                bytes_done=self.bytes_done,
                bytes_total=self.bytes_total,
                files_done=self.files_done,
                files_total=self.files_total,
                current=self.current,
                message=self.message,
                checks=tuple(self.checks),
                results=tuple(self.results),
                started_at=self.started_at,
                **extra,
            )

    # -- cancel and room -----------------------------------------------------------

    def check_cancel(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    def space_left(self, path: str) -> tuple[int, int | None]:
        """(bytes free beyond the reserve, bytes left in her quota or None)."""
        info = os.statvfs(path)
        free = info.f_bavail * info.f_frsize - self.spec.limits.reserve_bytes
        limits = quota(path)
        return free, (None if limits is None else limits[1] - limits[0])

    def ensure_room(self, size: int | None, path: str | None = None) -> None:
        """Refuse before writing when ``size`` more bytes would not fit."""
        if size is None:
            return
        free, left = self.space_left(path or self.spec.local_path)
        if left is not None and size > left:
            raise TransferError(
                "quota",
                f"This needs {size:,} bytes but your quota has only {max(left, 0):,} left.",
            )
        if size > free:
            raise TransferError(
                "no_space",
                f"This needs {size:,} bytes but the disk has only {max(free, 0):,} to spare.",
            )

    def counted(self, count: int, path: str | None = None, moved: bool = True) -> None:
        """``count`` more bytes moved (or, not ``moved``, written while unpacking):
        progress, cancel, and now and then the room."""
        self.check_cancel()
        with self.lock:
            if moved:
                self.bytes_done += count
            self._since_space += count
            due = self._since_space >= SPACE_EVERY_BYTES
            if due:
                self._since_space = 0
        if due and path is not None:
            where = os.path.dirname(path)
            info = os.statvfs(where)
            if info.f_bavail * info.f_frsize < self.spec.limits.reserve_bytes:
                raise TransferError("no_space", "The disk is full, so the transfer stopped.")
            if time.monotonic() - self._quota_at > QUOTA_EVERY_SECONDS:
                self._quota_at = time.monotonic()
                limits = quota(where)
                if limits is not None and limits[0] >= limits[1]:
                    raise TransferError("quota", "Your quota is full, so the transfer stopped.")

    # -- partial files -------------------------------------------------------------

    def partial_name(self, folder: str, label: str) -> str:
        """A hidden name in ``folder`` for something not yet complete."""
        return os.path.join(folder, f".onestop-{self.spec.id}-{label}.partial")

    def track(self, path: str) -> None:
        with self.lock:
            self.partials.add(path)

    def untrack(self, path: str) -> None:
        with self.lock:
            self.partials.discard(path)

    def place(self, partial: str, folder: str, name: str) -> str:
        """Move a complete, checked ``partial`` into ``folder`` under ``name`` (or a
        free variant of it); returns the name used."""
        self.check_cancel()
        final = unique_name(folder, name)
        # link-less rename, refusing to replace anything that appeared meanwhile
        target = os.path.join(folder, final)
        if os.path.lexists(target):
            raise TransferError("failed", f"{final} appeared while the transfer ran.")
        os.rename(partial, target)
        self.untrack(partial)
        return final

    def clean_up(self) -> None:
        """Remove everything unfinished (a cancel, a failure)."""
        with self.lock:
            leftovers = list(self.partials)
            self.partials.clear()
        remote, self.remote_partial = self.remote_partial, None
        if remote is not None:
            fs, name = remote
            with contextlib.suppress(Exception):
                if fs.exists(name):
                    fs.rm(name)
        for path in leftovers:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    @contextlib.contextmanager
    def sink(self, folder: str, label: str) -> Iterator[Sink]:
        """A new hidden file in ``folder`` to write into; removed unless placed."""
        path = self.partial_name(folder, label)
        self.track(path)
        try:
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
        except FileExistsError:  # a previous run's leftover of this same transfer
            os.unlink(path)
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
        handle = os.fdopen(fd, "wb")
        sink = Sink(self, path, handle)
        try:
            yield sink
        except OSError as error:
            raise disk_error(error) from error
        finally:
            handle.close()
            if not sink.kept and path in self.partials:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                self.untrack(path)

    # -- what a retry may reuse ----------------------------------------------------

    def _load_memo(self) -> dict[str, Any]:
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(self.folder, MEMO), "rb") as handle:
                value = json.load(handle)
            if isinstance(value, dict):
                return value
        return {}

    def remembered(self, key: str) -> Any:
        with self.lock:
            return self._memo.get(key)

    def remember(self, key: str, value: Any) -> None:
        """Note something a retry may rely on (never a secret)."""
        with self.lock:
            self._memo[key] = value
            text = json.dumps(self._memo)
        tmp = os.path.join(self.folder, f".{MEMO}.tmp")
        with contextlib.suppress(OSError):
            with open(tmp, "w") as handle:
                handle.write(text)
            os.replace(tmp, os.path.join(self.folder, MEMO))

    # -- TLS ----------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.spec.network.ca_file:
            context.load_verify_locations(self.spec.network.ca_file)
        return context


class Sink:
    """A partial file being written: counts bytes, honours cancel and the room."""

    def __init__(self, work: Work, path: str, handle: BinaryIO) -> None:
        self.work = work
        self.path = path
        self.handle = handle
        self.size = 0
        # Kept after the ``with``: the caller places it later (or the clean-up goes).
        self.kept = False

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.size += len(data)
        self.work.counted(len(data), self.path)

    def finish(self) -> None:
        """Everything is written: on the disk before it is renamed into place."""
        self.handle.flush()
        os.fsync(self.handle.fileno())


def disk_error(error: OSError) -> Exception:
    """A write that failed, in her words when it is her disk or quota."""
    if error.errno == errno.ENOSPC:
        return TransferError("no_space", "The disk is full, so the transfer stopped.")
    if error.errno == errno.EDQUOT:
        return TransferError("quota", "Your quota is full, so the transfer stopped.")
    if error.errno == errno.EACCES:
        return TransferError("failed", f"You may not write there: {error.filename or ''}".strip())
    return error
