"""Sizes in words, shared by the agents' messages and the portal's pages, so a limit
reads the same wherever it is mentioned ("256 MB", not "268.4 MB" here and
"256 MiB" there)."""

from __future__ import annotations


def size_words(size: int) -> str:
    """Bytes as ``37 bytes``, ``195 KB``, ``1.5 GB`` (units of 1024, as disks and
    quotas count them; one decimal below 10)."""
    if size < 1024:
        return f"{size} byte" if size == 1 else f"{size} bytes"
    amount = float(size)
    for unit in ("KB", "MB", "GB", "TB", "PB"):
        amount /= 1024
        if amount < 1024 or unit == "PB":
            return f"{amount:.1f} {unit}" if amount < 10 else f"{amount:.0f} {unit}"
    return f"{size} bytes"
