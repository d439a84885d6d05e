"""One module per kind of source; each offers ``fetch`` (import), ``send`` (export,
where the kind has one) and ``browse``, all given a ``Work`` (managers/data/context).

Which module serves a kind is this table, so the worker names no protocol.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType

__all__ = ["MODULES", "module_for", "safe_name"]

MODULES = {
    "url": "managers.data.sources.url",
    "s3": "managers.data.sources.s3",
    "sftp": "managers.data.sources.sftp",
    "webdav": "managers.data.sources.webdav",
    "git": "managers.data.sources.git",
}

UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def module_for(kind: str) -> ModuleType:
    """The module of ``kind``, imported only when needed (each pulls in its library)."""
    return importlib.import_module(MODULES[kind])


def safe_name(name: str, fallback: str = "download") -> str:
    """A name from the other side made harmless as one entry of her folder: no
    separators or control characters, no leading dots (hidden, or ``..``), not too
    long."""
    cleaned = UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if len(cleaned.encode()) > 200:
        _stem, dot, suffix = cleaned.rpartition(".")
        keep = suffix[:20] if dot else ""
        cleaned = cleaned.encode()[:180].decode(errors="ignore") + (f".{keep}" if keep else "")
    return cleaned or fallback
