"""Work an operation leaves running after it has answered (a zip being written into
a pipe the portal reads). The agent does not exit for being idle while any runs:
the person's download would be cut short."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_running = 0


def started() -> None:
    global _running
    with _lock:
        _running += 1


def finished() -> None:
    global _running
    with _lock:
        _running -= 1


def busy() -> bool:
    with _lock:
        return _running > 0
