"""Live folders at the verb level: ``files.watch`` through the real gate and real
agents, waiting as the person on a real folder.

How quickly a change ends a wait is measured by loadtests/bench_watch.py, not here."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.verbs import VerbFailed
from tests.helpers import inotify_watches, wait_until
from tests.verbs.conftest import Harness


@pytest.fixture
def folder() -> Iterator[Path]:
    """A private folder of alice's (0700), removed afterwards."""
    path = Path(f"/home/alice/watch-{uuid.uuid4().hex[:6]}")
    path.mkdir()
    os.chown(path, 2001, 2001)
    os.chmod(path, 0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def watching(folder: Path, count: int = 1) -> None:
    """Until her agent holds ``count`` inotify watches on ``folder`` (set up, so a
    change made now is seen)."""
    await asyncio.to_thread(wait_until, lambda: inotify_watches(folder) == count, 15, 0.05)


async def test_a_new_file_ends_the_wait(harness: Harness, folder: Path) -> None:
    alice = harness.person("alice")
    # Its timeout is far off (30 s, the most), so only the new file can end it early.
    waiting = asyncio.create_task(
        harness.gate.call(alice, "files.watch", path=str(folder), seconds=30)
    )
    await watching(folder)
    assert not waiting.done()
    subprocess.run(["runuser", "-u", "alice", "--", "touch", str(folder / "new.txt")], check=True)
    result = await asyncio.wait_for(waiting, 20)
    assert result.changed
    assert ("alice", f"file:{folder}", "ok") in await harness.audit("files.watch")


async def test_no_change_ends_at_the_timeout(harness: Harness, folder: Path) -> None:
    started = time.monotonic()
    result = await harness.gate.call(
        harness.person("alice"), "files.watch", path=str(folder), seconds=1.0
    )
    assert not result.changed
    assert time.monotonic() - started >= 0.9, "it waited its second (a slow machine waits longer)"


async def test_a_change_between_waits_is_not_missed(harness: Harness, folder: Path) -> None:
    alice = harness.person("alice")
    first = await harness.gate.call(alice, "files.watch", path=str(folder), seconds=0.2)
    # The point of the test, not a wait for readiness: a file system with a coarse
    # clock must still give the folder a different modification time.
    await asyncio.sleep(0.02)
    subprocess.run(["runuser", "-u", "alice", "--", "mkdir", str(folder / "sub")], check=True)
    again = await harness.gate.call(
        alice, "files.watch", path=str(folder), seconds=10, since=first.version
    )
    # Made before this wait began, the change is one inotify never saw: only the
    # version can tell it (a wait that missed it would end unchanged after 10 s).
    assert again.changed and again.version != first.version


async def test_bob_may_not_watch_alices_private_folder(harness: Harness, folder: Path) -> None:
    with pytest.raises(VerbFailed) as refused:
        await harness.gate.call(harness.person("bob"), "files.watch", path=str(folder), seconds=1)
    assert refused.value.detail == "EACCES"
    assert "permission" in refused.value.message


async def test_waits_per_person_are_capped(harness: Harness, folder: Path) -> None:
    alice = harness.person("alice")
    waits = [
        asyncio.create_task(harness.gate.call(alice, "files.watch", path=str(folder), seconds=3))
        for _ in range(4)
    ]
    await watching(folder, 4)  # all four reached her agent
    with pytest.raises(VerbFailed) as refused:
        await harness.gate.call(alice, "files.watch", path=str(folder), seconds=1)
    assert refused.value.detail == "busy"
    assert "4 folders" in refused.value.message
    results = await asyncio.gather(*waits)
    assert not any(result.changed for result in results)
