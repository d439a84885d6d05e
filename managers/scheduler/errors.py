"""The one error type the scheduler side raises; pages turn it into plain words."""

from __future__ import annotations


class SchedulerError(Exception):
    """The scheduler did not answer, or answered something we cannot read.

    ``message`` is safe to show a user; ``detail`` (stderr, exit code) is for logs.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
