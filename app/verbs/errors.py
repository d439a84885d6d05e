"""What a verb call can end in besides a result. Pages show ``message`` as it is.

A verb error carries a ``kind`` (what it means for the person: ``ErrorKind``) and
never an HTTP status: the web tier maps kinds to answers in one place
(app/web/errors.py). ``detail`` keeps the code it came with (an errno name such as
``"EEXIST"`` from her agent, ``"reauth"`` from the gate), for the audit and for a
page that offers a way out of one particular case ("replace or keep both").

Which class says who decided: the gate's check of the request (``VerbInvalid``),
policy (``VerbDenied``), the work itself (``VerbFailed``, whose kind follows from
what the agent or manager said, through ``kind_of``), or nobody answered
(``VerbUnavailable``). Code that looks at an error looks at its ``kind``.
"""

from __future__ import annotations

from enum import Enum

from app.logs import get_logger

log = get_logger("onestop.verbs")


class ErrorKind(Enum):
    """What went wrong, as the person needs to know it. A plain Enum, not a str: a
    comparison with a code (``error.kind == "EEXIST"``) is a type error; that is
    ``error.detail``."""

    DENIED = "denied"  # policy or the kernel says she may not
    NOT_FOUND = "not_found"  # there is no such thing (or none she may know of)
    INVALID = "invalid"  # the request itself is wrong, said before anything ran
    CONFLICT = "conflict"  # refused as things are: a name taken, Slurm said no
    TOO_LARGE = "too_large"  # more than a verb takes at once
    NO_SPACE = "no_space"  # the disk or her quota is full
    UNAVAILABLE = "unavailable"  # her agent, Slurm or the storage is not answering


_K = ErrorKind

# What agents and managers say (``OperationError.kind``: errno names, some made from
# whatever the kernel said, and a few words of their own), as kinds. The one place
# that decides; a code not listed is a refusal in the worker's own words (CONFLICT, as
# before kinds existed), and logged once.
CODES: dict[str, ErrorKind] = {
    # the kernel, as the person
    "ENOENT": _K.NOT_FOUND,
    "EACCES": _K.DENIED,
    "EPERM": _K.DENIED,
    "EROFS": _K.DENIED,
    "EEXIST": _K.CONFLICT,
    "ENOTEMPTY": _K.CONFLICT,
    "EISDIR": _K.CONFLICT,
    "ENOTDIR": _K.CONFLICT,  # a part of the path is a file (or a link), not a folder
    "ENOTREG": _K.CONFLICT,
    "ELOOP": _K.CONFLICT,
    "EINVAL": _K.CONFLICT,
    "ENAMETOOLONG": _K.CONFLICT,
    "EOPNOTSUPP": _K.CONFLICT,
    "EBUSY": _K.CONFLICT,
    "ETXTBSY": _K.CONFLICT,
    "EXDEV": _K.CONFLICT,
    "EFBIG": _K.TOO_LARGE,
    "E2BIG": _K.TOO_LARGE,  # a folder too deep or too full to change at once
    "ENOSPC": _K.NO_SPACE,
    "EDQUOT": _K.NO_SPACE,
    "EIO": _K.UNAVAILABLE,  # the storage itself failed
    "ESTALE": _K.UNAVAILABLE,
    "ETIMEDOUT": _K.UNAVAILABLE,
    "EHOSTDOWN": _K.UNAVAILABLE,
    "EHOSTUNREACH": _K.UNAVAILABLE,
    "ENOTCONN": _K.UNAVAILABLE,
    "ECONNREFUSED": _K.UNAVAILABLE,
    "EAGAIN": _K.UNAVAILABLE,
    "ENOMEM": _K.UNAVAILABLE,
    # the agents' and managers' own words
    "failed": _K.CONFLICT,  # refused in words of its own (Slurm refused a submission)
    "invalid": _K.CONFLICT,  # her agent's check of what the gate let through
    "conflict": _K.CONFLICT,  # the file changed since she opened it
    "partial": _K.CONFLICT,  # copied, but the original stayed
    "EINCOMPLETE": _K.CONFLICT,  # an upload finished short
    "busy": _K.UNAVAILABLE,  # her agent has as much of this under way as it takes
    "closing": _K.UNAVAILABLE,
    "internal": _K.UNAVAILABLE,
    "unknown-op": _K.UNAVAILABLE,  # her agent is of another release than the portal
    "unavailable": _K.UNAVAILABLE,
    "scheduler": _K.UNAVAILABLE,
    # managers/agent/client.py and remote.py: no agent could be reached or started
    "agent-unreachable": _K.UNAVAILABLE,
    "agent-lost": _K.UNAVAILABLE,
    "launch-timeout": _K.UNAVAILABLE,
    "launch-failed": _K.UNAVAILABLE,
    "launcher-not-allowed": _K.UNAVAILABLE,
    "remote-unreachable": _K.UNAVAILABLE,
    "remote-untrusted": _K.UNAVAILABLE,
    "remote-refused": _K.UNAVAILABLE,
    "remote-timeout": _K.UNAVAILABLE,
    "remote-lost": _K.UNAVAILABLE,
}
_unlisted: set[str] = set()


def kind_of(code: str) -> ErrorKind:
    """The kind of what an agent or manager said (an errno name or one of its words)."""
    kind = CODES.get(code)
    if kind is None:
        if code not in _unlisted:
            _unlisted.add(code)
            log.warning("verb_error_code_unlisted", code=code)
        return ErrorKind.CONFLICT
    return kind


class VerbError(Exception):
    """``message`` is a sentence for the person; ``kind`` what it means; ``detail`` the
    code it came with."""

    def __init__(self, message: str, kind: ErrorKind, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.detail = detail or kind.value


class VerbInvalid(VerbError):
    """The request itself is wrong: unknown verb, bad arguments, an impossible path.

    ``fields`` maps a form field to what is wrong with it, so a page can say it next
    to the field.
    """

    def __init__(
        self, message: str, detail: str = "invalid", fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, ErrorKind.INVALID, detail)
        self.fields = fields or {}


class VerbDenied(VerbError):
    """Policy says no (``detail`` "reauth": only after a recent sign-in). Audited."""

    def __init__(self, message: str, detail: str = "denied") -> None:
        super().__init__(message, ErrorKind.DENIED, detail)


class VerbFailed(VerbError):
    """The work was attempted and did not succeed (the kernel or Slurm said no, or
    nothing is there): its kind follows from ``detail``, through ``kind_of``."""

    def __init__(self, message: str, detail: str = "failed") -> None:
        super().__init__(message, kind_of(detail), detail)


class VerbUnavailable(VerbError):
    """The user's agent or the scheduler could not be reached."""

    def __init__(self, message: str, detail: str = "unavailable") -> None:
        super().__init__(message, ErrorKind.UNAVAILABLE, detail)
