"""The event bus, in memory and across two portal instances through Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.realtime.bus import EventBus

BACKENDS = [
    "memory://",
    "redis://127.0.0.1:6379/0",
    "postgresql://postgres@127.0.0.1:5432/postgres",
]


@pytest.mark.parametrize("url", BACKENDS)
async def test_a_subscriber_gets_events_of_its_channels_only(url: str) -> None:
    publisher, listener = EventBus(url), EventBus(url)
    if url == "memory://":
        listener = publisher  # memory is one process: one bus
    await publisher.connect()
    if listener is not publisher:
        await listener.connect()
    mine, theirs = f"user.alice-{uuid.uuid4().hex[:6]}", f"user.bob-{uuid.uuid4().hex[:6]}"
    try:
        async with listener.subscribe("cluster-test", mine) as events:
            await publisher.publish(theirs, {"kind": "jobs", "n": 0})
            await publisher.publish(mine, {"kind": "jobs", "n": 1})
            await publisher.publish("cluster-test", {"kind": "cluster", "n": 2})
            received = [await asyncio.wait_for(anext(events), 5) for _ in range(2)]
        assert sorted(event["n"] for event in received) == [1, 2]
        assert {event["channel"] for event in received} == {mine, "cluster-test"}
    finally:
        await publisher.disconnect()
        if listener is not publisher:
            await listener.disconnect()
