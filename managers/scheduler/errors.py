"""The one error type the scheduler side raises; pages turn it into plain words."""

from __future__ import annotations

from typing import Literal

# unavailable: the scheduler did not answer (or its commands cannot run here);
# refused: a command ran and said no (``refusal`` holds its own words);
# unreadable: it answered something the portal cannot read;
# invalid: the request itself cannot be put to the scheduler.
Kind = Literal["unavailable", "refused", "unreadable", "invalid"]


class SchedulerError(Exception):
    """The scheduler did not answer, refused, or answered something we cannot read.

    ``message`` is safe to show a user; ``detail`` (stderr, exit code) is for logs.
    ``refusal`` is the scheduler's own last line when it refused, so that the agent
    can tell the person why ("Invalid account or account/partition combination").
    """

    def __init__(
        self, message: str, detail: str = "", kind: Kind = "unavailable", refusal: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.kind: Kind = kind
        self.refusal = refusal
