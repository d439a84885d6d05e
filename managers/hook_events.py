"""Slurm's own word that a job started or ended, so the watcher reads the cluster at
once instead of at its next turn.

Slurm runs ``PrologSlurmctld`` when a job starts and ``EpilogSlurmctld`` when it ends,
as SlurmUser on the controller. Onestop's hook script (devcluster/templates/
onestop-hook) appends one line, ``<unix time> <start|end> <job id>``, to a spool file
and exits 0 at once. Every portal on the host follows that file (inotify, through
watchfiles) and pokes its watcher: any number of portals hear every event, and no
secret is needed, because a line carries no state: it only makes the portal look at
the scheduler, which stays the one source of truth. A forged or lost line costs one
reading, or a few seconds' delay until the next regular one.

The hook keeps the file small by emptying it when it grows past a limit; a follower
that finds the file shorter than where it was (or a new file) starts from the top.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchfiles import Change, awatch

# The end hook runs while Slurm still counts the job as finishing (COMPLETING); it
# settles a moment after the hook exits, so the cluster is read again then.
SETTLE_SECONDS = (0.5, 1.5, 4.0)
RETRY_SECONDS = 10.0
MAX_READ = 1024 * 1024


class HookEvents:
    """Follows ``path`` and calls ``poke`` for every batch of new lines."""

    def __init__(self, path: str, poke: Callable[[], None], logger: Any) -> None:
        self.path = Path(path)
        self.poke = poke
        self.log = logger
        self._offset = 0
        self._inode: int | None = None
        self._partial = b""
        self.lines_seen = 0

    async def run(self) -> None:
        """Until cancelled. A missing folder is reported once and looked for again."""
        reported = False
        while True:
            if self.path.parent.is_dir():
                reported = False
                try:
                    await self._follow()
                except Exception:  # inotify limits, a folder removed under us...
                    self.log.exception("slurm_hook_follow_failed", path=str(self.path))
            elif not reported:
                self.log.warning(
                    "slurm_hook_events_missing",
                    path=str(self.path),
                    detail="folder missing: job start and end wait for the next regular reading",
                )
                reported = True
            await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self) -> None:
        self._skip_to_end()  # lines from before the portal started are old news
        self.log.info("slurm_hook_following", path=str(self.path))
        name = self.path.name

        def ours(change: Change, path: str) -> bool:
            return os.path.basename(path) == name

        async for _ in awatch(self.path.parent, watch_filter=ours, step=20, recursive=False):
            self.read_new_lines()

    def _skip_to_end(self) -> None:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._offset, self._inode = 0, None
            return
        self._offset, self._inode, self._partial = status.st_size, status.st_ino, b""

    def read_new_lines(self) -> list[str]:
        """Read what was appended since the last call, poke the watcher if anything
        was, and return the complete new lines."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._offset, self._inode, self._partial = 0, None, b""
            return []
        if status.st_ino != self._inode or status.st_size < self._offset:
            # A new file, or emptied by the hook to keep it small: start from the top.
            self._offset, self._inode, self._partial = 0, status.st_ino, b""
        if status.st_size == self._offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read(min(status.st_size - self._offset, MAX_READ))
        self._offset += len(data)
        *complete, self._partial = (self._partial + data).split(b"\n")
        self._partial = self._partial[-4096:]
        lines = [line.decode(errors="replace").strip() for line in complete if line.strip()]
        if not lines:
            return []
        self.lines_seen += len(lines)
        for line in lines:
            self._log_line(line)
        self.poke()
        loop = asyncio.get_running_loop()
        for delay in SETTLE_SECONDS:
            loop.call_later(delay, self.poke)
        return lines

    def _log_line(self, line: str) -> None:
        stamp, _, rest = line.partition(" ")
        event, _, job = rest.partition(" ")
        try:
            delay_ms: float | None = round((time.time() - float(stamp)) * 1000, 1)
        except ValueError:
            delay_ms = None
        self.log.debug("slurm_hook_event", what=event, job=job, delay_ms=delay_ms)
