"""The event bus: encode's broadcaster with JSON payloads and multi-channel subscribe.

In memory for one portal process (the default); ``redis://`` or ``postgresql://``
when several portal instances must see the same events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from broadcaster import Broadcast


def cluster_channel() -> str:
    return "cluster"


def user_channel(unix_name: str) -> str:
    return f"user.{unix_name}"


def project_channel(project: str) -> str:
    return f"project.{project}"


class EventBus:
    def __init__(self, url: str) -> None:
        self._broadcast = Broadcast(url)

    async def connect(self) -> None:
        await self._broadcast.connect()

    async def disconnect(self) -> None:
        await self._broadcast.disconnect()

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        await self._broadcast.publish(channel, json.dumps(payload, default=str))

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Yield one stream of the events of all ``channels``, in arrival order."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)

        async def pump(channel: str, ready: asyncio.Event) -> None:
            async with self._broadcast.subscribe(channel) as subscriber:
                ready.set()
                async for event in subscriber:  # type: ignore[union-attr]
                    if event is None:
                        break
                    payload = json.loads(event.message)
                    payload.setdefault("channel", channel)
                    # The same message reaches every subscriber: its digest lets their
                    # sockets share one rendering (app/realtime/fragments.py).
                    payload["digest"] = hashlib.blake2b(
                        event.message.encode(), digest_size=16
                    ).hexdigest()
                    if queue.full():  # a stalled viewer loses old events, not the portal
                        queue.get_nowait()
                    queue.put_nowait(payload)

        tasks: list[asyncio.Task[None]] = []
        try:
            # One channel at a time: the Redis backend shares one pub/sub connection,
            # and concurrent first subscriptions race inside it.
            for channel in channels:
                ready = asyncio.Event()
                task = asyncio.create_task(pump(channel, ready))
                tasks.append(task)
                waiter = asyncio.ensure_future(ready.wait())
                await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
                if not ready.is_set():
                    waiter.cancel()
                    raise ConnectionError(f"could not subscribe to {channel}") from (
                        task.exception() if task.done() and not task.cancelled() else None
                    )

            async def stream() -> AsyncIterator[dict[str, Any]]:
                """Ends (raises) when a channel's subscription dies, so the caller can
                close its socket and the browser reconnects, instead of hanging."""
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait(
                        [getter, *tasks], return_when=asyncio.FIRST_COMPLETED
                    )
                    if getter not in done:
                        getter.cancel()
                        raise ConnectionError("an event bus subscription ended")
                    yield getter.result()

            yield stream()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
