"""One page of a folder, sorted, filtered and found again by a cursor.

A folder may hold 100,000 entries; the page shows 200. So nothing here builds 100,000
objects or stats 100,000 files when it need not:

- ``order="folder"`` reads entries in directory order and stops after the page: the
  first page costs the same for 10 entries or a million.
- ``order="name"`` needs every name (the smallest could be the last one read) but
  no ``stat``: ``scandir`` gives names and types from the directory itself, and
  ``heapq.nsmallest`` keeps only the page (O(n log k), not a full sort).
- ``order="size"``/``"modified"`` need a ``stat`` of every entry; that is the price
  of the question, paid once per page, still well under a second for 100,000.

Only the entries of the page are then stat'ed for their columns. The cursor is the
sort key of the page's last entry (JSON), so the next page starts after it even when
entries were added or removed meanwhile; nothing is skipped or shown twice.
"""

from __future__ import annotations

import heapq
import json
import os
import stat
from collections.abc import Iterator
from typing import Any

from managers.errors import OperationError
from managers.files.operations import _explain
from managers.files.transfer import is_part_file

ORDERS = ("name", "size", "modified", "folder")
MAX_LIMIT = 1000

# (folders first, the sort value, the exact name): unique per entry, so a cursor
# names exactly one place in the order.
Key = tuple[int, Any, str]


def _scan(path: str, hidden: bool, needle: str) -> Iterator[os.DirEntry[str]]:
    with os.scandir(path) as entries:
        for entry in entries:
            name = entry.name
            if not hidden and name.startswith("."):
                continue
            if is_part_file(name):  # an upload under way: not a file of hers yet
                continue
            if needle and needle not in name.casefold():
                continue
            yield entry


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows a symlink: a link to a folder opens like one
    except OSError:
        return False


def _key(entry: os.DirEntry[str], order: str, descending: bool) -> Key:
    # Folders come first either way: in a descending order the larger flag leads.
    folder = int(_is_folder(entry) == descending)
    if order == "name":
        return (folder, entry.name.casefold(), entry.name)
    try:
        info = entry.stat()
    except OSError:
        return (folder, 0, entry.name)
    value = info.st_size if order == "size" else info.st_mtime_ns
    return (folder, value, entry.name)


def _parse_cursor(cursor: str, order: str) -> Key | None:
    if not cursor:
        return None
    try:
        folder, value, name = json.loads(cursor)
    except (ValueError, TypeError) as error:
        raise OperationError("This page link is out of date; open the folder again.") from error
    wanted = str if order == "name" else int
    if not isinstance(folder, int) or not isinstance(value, wanted) or not isinstance(name, str):
        raise OperationError("This page link is out of date; open the folder again.")
    return (folder, value, name)


def _row(folder: str, name: str) -> tuple[str, os.stat_result, bool] | None:
    """Columns for one entry; a dangling symlink shows as the link itself."""
    path = os.path.join(folder, name)
    try:
        link = os.lstat(path)
    except OSError:
        return None  # gone since the scan
    if not stat.S_ISLNK(link.st_mode):
        return name, link, False
    try:
        return name, os.stat(path), True
    except OSError:
        return name, link, True


def list_page(
    path: str,
    order: str = "name",
    descending: bool = False,
    hidden: bool = False,
    filter: str = "",
    cursor: str = "",
    limit: int = 200,
) -> dict[str, Any]:
    """Columns of up to ``limit`` entries after ``cursor``, the next cursor ("" at
    the end) and, for sorted orders, how many entries match in all."""
    if order not in ORDERS:
        raise OperationError(f"Unknown order {order!r}.", "invalid")
    limit = max(1, min(int(limit), MAX_LIMIT))
    needle = filter.casefold()
    total: int | None = None
    try:
        if order == "folder":
            start = int(cursor or 0)
            names: list[str] = []
            for index, entry in enumerate(_scan(path, hidden, needle)):
                if index < start:
                    continue
                if len(names) == limit + 1:
                    break
                names.append(entry.name)
            more = len(names) > limit
            names = names[:limit]
            after = str(start + limit) if more else ""
        else:
            since = _parse_cursor(cursor, order)
            keys = (_key(entry, order, descending) for entry in _scan(path, hidden, needle))
            total = 0
            wanted: list[Key] = []

            def counted(source: Iterator[Key]) -> Iterator[Key]:
                nonlocal total
                for key in source:
                    total += 1
                    if since is None or (key < since if descending else key > since):
                        yield key

            pick = heapq.nlargest if descending else heapq.nsmallest
            wanted = pick(limit + 1, counted(keys))
            more = len(wanted) > limit
            wanted = wanted[:limit]
            names = [key[2] for key in wanted]
            after = json.dumps(list(wanted[-1])) if more else ""
    except OSError as error:
        raise _explain(error, path) from error
    columns: dict[str, list[Any]] = {
        key: [] for key in ("names", "kinds", "sizes", "modes", "uids", "gids", "modified", "links")
    }
    for name in names:
        row = _row(path, name)
        if row is None:
            continue
        name, info, link = row
        columns["names"].append(name)
        columns["kinds"].append("folder" if stat.S_ISDIR(info.st_mode) else "file")
        columns["sizes"].append(info.st_size)
        columns["modes"].append(stat.S_IMODE(info.st_mode))
        columns["uids"].append(info.st_uid)
        columns["gids"].append(info.st_gid)
        columns["modified"].append(info.st_mtime)
        columns["links"].append(link)
    return {"path": path, "cursor": after, "total": total, **columns}
