"""Where to go after sign-in: only ever a path on this portal.

Browsers treat ``//host``, ``/\\host`` and a few encoded forms as other sites, so
anything but a plain absolute path is replaced by the dashboard.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

DEFAULT = "/"


def safe_next(value: str | None) -> str:
    """``value`` if it is a plain local path at every layer of decoding, else "/"."""
    if not value or len(value) > 2048:
        return DEFAULT
    candidate = value
    for _ in range(3):  # look through up to three layers of percent-encoding
        if not _plain_path(candidate):
            return DEFAULT
        decoded = unquote(candidate)
        if decoded == candidate:
            break
        candidate = decoded
    else:
        return DEFAULT
    return value


def _plain_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc
