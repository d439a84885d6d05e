"""Where a path's file system starts, and what ``quota`` says about it, as the person.

Both the storage card (``manage.usage``) and the upload check (``transfer``) ask this;
one reading of ``quota`` serves both, so the card and the refusal never disagree.
"""

from __future__ import annotations

import os
import shutil
import subprocess

QUOTA_SECONDS = 10.0


def mount_point(path: str) -> str:
    """The top of the file system holding ``path`` (links resolved)."""
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def quota(path: str) -> tuple[int, int] | None:
    """(used, limit) in bytes for this person on the file system of ``path``: the hard
    block limit, else the soft one (enforced once its grace is over). None where there
    is no ``quota`` command or no limit.

    ``quota -w -p -f <mount>`` prints one line per file system, in 1 KiB blocks:
    device (``/dev/sda1``, or ``server:/export`` for NFS), blocks (``*`` when over the
    soft limit), soft limit, hard limit, grace, then the same for files.
    """
    command = shutil.which("quota")
    if command is None:
        return None
    try:
        output = subprocess.run(
            [command, "-w", "-p", "-f", mount_point(path)],
            capture_output=True,
            text=True,
            timeout=QUOTA_SECONDS,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        try:
            used, soft, hard = int(fields[1].rstrip("*")), int(fields[2]), int(fields[3])
        except ValueError:
            continue  # the heading lines
        limit = hard or soft
        if limit > 0:
            return used * 1024, limit * 1024
    return None


def room(path: str) -> int | None:
    """Bytes she may still write under ``path``: free space, and her quota if any."""
    try:
        info = os.statvfs(path)
    except OSError:
        return None
    free = info.f_bavail * info.f_frsize
    limits = quota(path)
    return free if limits is None else min(free, max(0, limits[1] - limits[0]))
