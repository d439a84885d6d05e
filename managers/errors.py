"""The one error type managers raise for work that could not be done."""

from __future__ import annotations


class OperationError(Exception):
    """``message`` is a sentence for the person; ``kind`` a stable code for programs."""

    def __init__(self, message: str, kind: str = "failed") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
