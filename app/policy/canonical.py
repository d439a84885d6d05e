"""One spelling per object, and plain names for everything else, before Casbin decides.

Policy patterns are matched against strings, so two spellings of one file
(``/a/./b``, ``/a//b``, ``/a/x/../b``) must become one string first, or a rule written
for one spelling would miss (or catch) the other. Resolution is lexical only: symlinks
are the kernel's business, because agents open files as the user (tier 3).
"""

from __future__ import annotations

import posixpath
import re
import unicodedata

from app.policy.errors import PolicyInputError

MAX_OBJECT_LENGTH = 4096
"""The longest object value accepted (PATH_MAX on Linux)."""

_KIND = re.compile(r"[a-z][a-z0-9-]{0,31}")
_SAFE_VALUE = re.compile(r"[A-Za-z0-9._@+=~*/-]+")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_ACTION = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_SLASHES = re.compile(r"/{2,}")

ANY_DOMAIN = "*"
"""The domain that stands for every project (in rules) or no project (in requests)."""


def canonical_object(kind: str, value: str) -> str:
    """Return ``kind:value`` in its one canonical spelling, or raise PolicyInputError.

    ``file`` values must be absolute paths; ``//`` collapses, ``.`` and ``..`` resolve
    lexically (``..`` above ``/`` stays at ``/``) and a trailing slash goes. NUL,
    control characters and backslashes are refused rather than cleaned, since they
    only appear in crafted input. Other kinds take a conservative character set,
    with ``/`` between non-empty segments and no ``..`` anywhere.
    """
    if not _KIND.fullmatch(kind):
        raise PolicyInputError(f"{kind!r} is not an object kind (lower-case letters, digits, -).")
    if len(value) > MAX_OBJECT_LENGTH:
        raise PolicyInputError(f"The {kind} name is longer than {MAX_OBJECT_LENGTH} characters.")
    if kind == "file":
        return f"file:{_canonical_path(value)}"
    return f"{kind}:{_canonical_name(kind, value)}"


def _canonical_path(value: str) -> str:
    if "\x00" in value:
        raise PolicyInputError("A file path may not contain a NUL character.")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise PolicyInputError("A file path may not contain control characters.")
    if "\\" in value:
        raise PolicyInputError("A file path may not contain a backslash.")
    if not value.startswith("/"):
        raise PolicyInputError(f"The file path {value!r} must be absolute (start with /).")
    # normpath keeps a leading "//" (POSIX leaves it implementation-defined): collapse first.
    return posixpath.normpath(_SLASHES.sub("/", value))


def _canonical_name(kind: str, value: str) -> str:
    if not _SAFE_VALUE.fullmatch(value):
        raise PolicyInputError(
            f"The {kind} name {value!r} may only use letters, digits and . _ @ + = ~ * / -"
        )
    if ".." in value:
        raise PolicyInputError(f"The {kind} name {value!r} may not contain '..'.")
    if "" in value.split("/") or "." in value.split("/"):
        raise PolicyInputError(f"The {kind} name {value!r} has an empty or '.' segment.")
    return value


def check_name(what: str, name: str) -> str:
    """Return a subject, role or project name unchanged, or raise PolicyInputError.

    Names end up inside policy rows and ``{sub}``/``{dom}`` substitutions, so they keep
    to the characters of Unix user and group names.
    """
    if not _NAME.fullmatch(name):
        raise PolicyInputError(f"{name!r} is not a valid {what} name.")
    return name


def check_domain(domain: str) -> str:
    """Return a project name or ``*`` unchanged, or raise PolicyInputError."""
    return domain if domain == ANY_DOMAIN else check_name("project", domain)


def check_action(action: str) -> str:
    """Return an action (``read``, ``cancel``, ...) unchanged, or raise PolicyInputError."""
    if not _ACTION.fullmatch(action):
        raise PolicyInputError(f"{action!r} is not a valid action name.")
    return action


def check_canonical(obj: str) -> str:
    """Return ``obj`` if it is already canonical, else raise PolicyInputError.

    The enforcer calls this so that a caller who skipped ``canonical_object`` is
    refused instead of being judged on a spelling the rules were not written for.
    """
    kind, sep, value = obj.partition(":")
    if not sep or canonical_object(kind, value) != obj:
        raise PolicyInputError(f"{obj[:200]!r} is not canonical: pass it through canonical_object.")
    return obj
