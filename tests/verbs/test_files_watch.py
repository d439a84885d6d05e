"""Live folders at the verb level: ``files.watch`` through the real gate and real
agents, waiting as the person on a real folder."""

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


async def test_a_new_file_ends_the_wait(harness: Harness, folder: Path) -> None:
    alice = harness.person("alice")
    waiting = asyncio.create_task(harness.gate.call(alice, "files.watch", path=str(folder)))
    await asyncio.sleep(1.0)  # the watch is set up
    assert not waiting.done()
    started = time.monotonic()
    subprocess.run(["runuser", "-u", "alice", "--", "touch", str(folder / "new.txt")], check=True)
    result = await asyncio.wait_for(waiting, 5)
    assert result.changed
    assert time.monotonic() - started < 3
    assert ("alice", f"file:{folder}", "ok") in await harness.audit("files.watch")


async def test_no_change_ends_at_the_timeout(harness: Harness, folder: Path) -> None:
    started = time.monotonic()
    result = await harness.gate.call(
        harness.person("alice"), "files.watch", path=str(folder), seconds=1.0
    )
    assert not result.changed
    assert 0.9 < time.monotonic() - started < 4


async def test_a_change_between_waits_is_not_missed(harness: Harness, folder: Path) -> None:
    alice = harness.person("alice")
    first = await harness.gate.call(alice, "files.watch", path=str(folder), seconds=0.2)
    await asyncio.sleep(0.02)  # a coarse clock must still see a different modification time
    subprocess.run(["runuser", "-u", "alice", "--", "mkdir", str(folder / "sub")], check=True)
    started = time.monotonic()
    again = await harness.gate.call(
        alice, "files.watch", path=str(folder), seconds=10, since=first.version
    )
    assert again.changed and time.monotonic() - started < 1


async def test_bob_may_not_watch_alices_private_folder(harness: Harness, folder: Path) -> None:
    with pytest.raises(VerbFailed) as refused:
        await harness.gate.call(harness.person("bob"), "files.watch", path=str(folder), seconds=1)
    assert refused.value.kind == "EACCES"
    assert "permission" in refused.value.message


async def test_waits_per_person_are_capped(harness: Harness, folder: Path) -> None:
    alice = harness.person("alice")
    waits = [
        asyncio.create_task(harness.gate.call(alice, "files.watch", path=str(folder), seconds=3))
        for _ in range(4)
    ]
    await asyncio.sleep(1.0)
    with pytest.raises(VerbFailed) as refused:
        await harness.gate.call(alice, "files.watch", path=str(folder), seconds=1)
    assert refused.value.kind == "busy"
    assert "4 folders" in refused.value.message
    results = await asyncio.gather(*waits)
    assert not any(result.changed for result in results)
