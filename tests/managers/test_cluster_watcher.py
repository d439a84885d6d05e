"""The cluster watcher against the real demo cluster."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from managers.cluster_watcher import ClusterWatcher
from managers.scheduler import ClusterSnapshot, JobState, NodeState, SchedulerError
from managers.scheduler.slurm import SlurmAdapter
from tests.conftest import scontrol
from tests.helpers import wait_until_async


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str | None, dict[str, Any]]] = []

    async def __call__(self, channel: str | None, payload: dict[str, Any]) -> None:
        self.events.append((channel, payload))

    def channels(self) -> list[str | None]:
        return [channel for channel, _ in self.events]


@pytest.fixture
def watcher(cluster: None) -> tuple[ClusterWatcher, Recorder]:
    recorder = Recorder()
    return ClusterWatcher(SlurmAdapter(), recorder), recorder


async def test_first_reading_publishes_the_cluster(
    watcher: tuple[ClusterWatcher, Recorder],
) -> None:
    w, recorder = watcher
    assert await w.refresh()
    assert recorder.channels()[0] is None, "the cluster event is for everyone"
    nodes = {n["name"] for n in recorder.events[0][1]["snapshot"]["nodes"]}
    assert nodes == {"node1", "node2"}
    recorder.events.clear()
    assert not await w.refresh() or None not in recorder.channels()


async def test_a_drain_is_published_once(
    watcher: tuple[ClusterWatcher, Recorder], node2_resumed: None
) -> None:
    w, recorder = watcher
    await w.refresh()
    recorder.events.clear()
    scontrol("update", "nodename=node2", "state=drain", "reason=maintenance")
    assert await w.refresh()
    (cluster,) = [payload for channel, payload in recorder.events if channel is None]
    node2 = next(n for n in cluster["snapshot"]["nodes"] if n["name"] == "node2")
    assert node2["state"] == NodeState.DRAINED.value and node2["reason"] == "maintenance"
    assert w.latest is not None and w.latest.reachable


async def test_a_job_is_published_on_its_owners_channel_only(
    watcher: tuple[ClusterWatcher, Recorder],
) -> None:
    w, recorder = watcher
    await w.refresh()
    recorder.events.clear()
    job_id = (
        subprocess.run(
            ["su", "-", "bob", "-c", "sbatch --parsable -p debug -J watched --wrap 'sleep 20'"],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .split(";")[0]
    )
    try:
        await w.refresh()
        assert "bob" in recorder.channels()
        assert "alice" not in recorder.channels()
        payload = next(p for c, p in recorder.events if c == "bob")
        job = next(j for j in payload["jobs"] if j["job_id"] == job_id)
        assert job["state"] in (JobState.PENDING.value, JobState.RUNNING.value)
    finally:
        subprocess.run(["scancel", job_id], check=True)


async def test_an_unreachable_scheduler_keeps_what_was_known(cluster: None) -> None:
    recorder = Recorder()
    w = ClusterWatcher(SlurmAdapter(), recorder)
    await w.refresh()
    known = w.latest
    assert known is not None
    w.adapter = SlurmAdapter(bin_dir="/nonexistent")
    await w.refresh()
    assert w.latest is not None and not w.latest.reachable
    assert [n.name for n in w.latest.nodes] == [n.name for n in known.nodes]
    assert w.latest.jobs == known.jobs, "no job is forgotten because Slurm did not answer"


class BrokenAdapter(SlurmAdapter):
    """Real Slurm underneath, but the first reading blows up like a parser bug would."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def snapshot(self) -> ClusterSnapshot:
        self.calls += 1
        if self.calls == 1:
            raise KeyError("nodes")
        return await super().snapshot()


async def test_the_watcher_survives_a_bad_round(cluster: None) -> None:
    import asyncio

    recorder = Recorder()
    adapter = BrokenAdapter()
    w = ClusterWatcher(adapter, recorder, interval=0.05, idle_interval=0.05)
    task = asyncio.create_task(w.run())

    async def read() -> bool:
        return w.latest is not None

    try:
        await wait_until_async(read, 5, 0.05)
    finally:
        task.cancel()
    assert adapter.calls >= 2 and w.latest is not None and w.latest.reachable


async def test_unreadable_output_is_a_scheduler_error(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name in ("sinfo", "squeue", "scontrol"):
        tool = fake_bin / name
        tool.write_text('#!/bin/sh\necho \'{"nodes": [{"state": "idle"}]}\'\n')
        tool.chmod(0o755)
    with pytest.raises(SchedulerError, match="cannot read"):
        await SlurmAdapter(bin_dir=str(fake_bin)).snapshot()
