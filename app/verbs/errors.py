"""What a verb call can end in besides a result. Pages show ``message`` as it is."""

from __future__ import annotations


class VerbError(Exception):
    status = 400

    def __init__(self, message: str, kind: str = "failed") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class VerbInvalid(VerbError):
    """The request itself is wrong: unknown verb, bad arguments, an impossible path.

    ``fields`` maps a form field to what is wrong with it, so a page can say it next
    to the field.
    """

    def __init__(
        self, message: str, kind: str = "invalid", fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, kind)
        self.fields = fields or {}


class VerbDenied(VerbError):
    """Policy says no. Audited."""

    status = 403


class VerbFailed(VerbError):
    """The work was attempted and did not succeed (the kernel or Slurm said no)."""

    status = 409


class VerbUnavailable(VerbError):
    """The user's agent or the scheduler could not be reached."""

    status = 503
