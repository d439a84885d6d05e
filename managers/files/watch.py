"""Waiting, as the person, for one folder to change: the agent's side of live folders.

The portal asks ``watch_folder`` while someone has a folder open and asks again when
it answers, so the agent only watches folders someone is looking at, and an agent
nobody asks any more goes idle once the last wait reaches its timeout. It runs as
her, so she can only watch what the kernel lets her read.

Inotify (watchfiles) does not see writes made on other machines to a network file
system; the folder's modification time is compared as well, so a file created by a
job on a compute node still shows within one wait.
"""

from __future__ import annotations

import os
import stat
import threading
from typing import Any

import watchfiles

from managers.errors import OperationError
from managers.files.operations import _explain

# Waits at once per agent (one per open folder tab): each holds a worker thread here
# and in the portal, so a person with many tabs gets a plain refusal, not a stall.
MAX_WATCHES = 4
MAX_SECONDS = 30.0
_slots = threading.BoundedSemaphore(MAX_WATCHES)


def _version(path: str) -> int:
    """The folder's modification time: it changes when an entry appears, goes or is renamed."""
    try:
        # Opening it is what needs permission (stat alone only needs search access).
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise _explain(error, path) from error
    try:
        info = os.fstat(fd)
    finally:
        os.close(fd)
    if not stat.S_ISDIR(info.st_mode):
        raise OperationError(f"This is not a folder: {path}", kind="ENOTDIR")
    return info.st_mtime_ns


def watch_folder(path: str, seconds: float = 25.0, since: int = 0) -> dict[str, Any]:
    """Wait until something in ``path`` (not its subfolders) changes, or ``seconds`` pass.

    Returns ``changed`` and ``version`` (the folder's modification time, to pass back
    as ``since`` next time: a change between two waits then ends the next one at
    once instead of being missed). Raises OperationError when she may not read the
    folder, or already has MAX_WATCHES waits running.
    """
    seconds = min(max(float(seconds), 0.1), MAX_SECONDS)
    if not _slots.acquire(blocking=False):
        raise OperationError(
            f"You already have {MAX_WATCHES} folders open with live updates. "
            "Close a tab or reload the page to see changes.",
            kind="busy",
        )
    try:
        version = _version(path)
        if since and since != version:
            return {"changed": True, "version": version}
        changes = watchfiles.watch(
            path,
            watch_filter=None,  # every name counts, hidden and editor files too
            recursive=False,
            debounce=500,
            step=50,
            rust_timeout=int(seconds * 1000),
            yield_on_timeout=True,
            raise_interrupt=False,
        )
        try:
            seen = next(changes, set())
        except (OSError, RuntimeError) as error:  # the watch could not be set up
            raise OperationError(f"This folder cannot be watched: {path}", "EIO") from error
        finally:
            changes.close()
        after = _version(path)
        return {"changed": bool(seen) or after != version, "version": after}
    finally:
        _slots.release()
