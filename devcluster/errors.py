"""The one exception type ``main`` turns into a clear message and exit code 1."""

from __future__ import annotations

from pathlib import Path


class DevclusterError(RuntimeError):
    """Something the developer has to fix; the message says what and where to look."""


def log_tail(path: Path, lines: int = 12) -> str:
    """The last lines of a log, indented, for error messages that point at that log."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"    ({path} does not exist)"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) or f"    ({path} is empty)"
