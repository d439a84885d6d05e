"""Follows every unfinished transfer, about once a second, for as long as the portal
runs.

The records are in the database, so a restarted portal takes up every transfer it
had: an agent-run one by its worker's progress file (a worker that died is marked
failed, with Retry), a job-based one by its job as well. Each round asks, for each
owner with something under way, the verb ``data.follow`` as the tool's service
principal ``service:data-monitor``: her agent reads the progress files as her, the
verb records them and tells her when one ended. What changed reaches her open tabs
as one ``data`` event on her channel (fragments.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from app.logs import get_logger
from app.realtime.bus import user_channel
from app.verbs import VerbError, VerbGate
from app.verbs.services import Extensions
from wrappers.data.service import Data
from wrappers.data.verbs import MONITOR

if TYPE_CHECKING:
    from starlette.applications import Starlette

Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


class DataMonitor:
    def __init__(self, data: Data, gate: VerbGate, publish: Publish, logger: Any) -> None:
        self.data = data
        self.gate = gate
        self.publish = publish
        self.log = logger
        self._wake = asyncio.Event()
        self._sent: dict[str, Any] = {}

    def poke(self) -> None:
        """Look now (a transfer was just started or cancelled)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.round()
            except Exception:
                self.log.exception("data_monitor_round_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.data.settings.poll_seconds)

    async def round(self) -> None:
        owners = {row.owner for row in await self.data.store.active()} | set(self._sent)
        for owner in sorted(owners):
            try:
                listed = await self.gate.call_as_service(MONITOR, owner, "data.follow")
            except VerbError as error:  # her agent is down, or the rule was removed
                self.log.warning("data_follow_failed", user=owner, detail=error.message)
                continue
            payload = {
                "kind": "data",
                "user": owner,
                "transfers": [view.model_dump(mode="json") for view in listed.transfers],
            }
            if self._sent.get(owner) != payload:
                self._sent[owner] = payload
                await self.publish(owner, payload)
            if not listed.active:
                self._sent.pop(owner, None)


@contextlib.asynccontextmanager
async def monitoring(app: Starlette) -> AsyncIterator[None]:
    """The Data tool's lifespan: one monitor for the portal."""
    gate: VerbGate = app.state.verbs
    extensions: Extensions = app.state.extensions
    data = extensions.get(Data)
    assert data is not None, "provided at start (Tool.provides)"
    bus = app.state.bus

    async def publish(owner: str, payload: dict[str, Any]) -> None:
        await bus.publish(user_channel(owner), payload)

    monitor = DataMonitor(data, gate, publish, get_logger("onestop.data"))
    app.state.data_monitor = monitor
    task = asyncio.create_task(monitor.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
