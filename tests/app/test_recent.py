"""app.recent: an answer kept for a moment, asked once however many wait for it."""

from __future__ import annotations

import asyncio

import pytest

from app.recent import Recent


async def test_many_callers_at_once_make_one_query_and_share_its_answer() -> None:
    asked = 0
    release = asyncio.Event()

    async def ask() -> int:
        nonlocal asked
        asked += 1
        await release.wait()
        return asked

    recent: Recent[str, int] = Recent(seconds=60)
    waiting = [asyncio.create_task(recent.get("k", ask)) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 50
    assert await recent.get("k", ask) == 1 and asked == 1, "kept"


async def test_an_answer_runs_out_and_forget_drops_it_at_once() -> None:
    answers = iter(range(10))

    async def ask() -> int:
        return next(answers)

    recent: Recent[str, int] = Recent(seconds=0.05)
    assert await recent.get("k", ask) == 0
    await asyncio.sleep(0.06)  # the point: its 0.05 s run out
    assert await recent.get("k", ask) == 1, "ran out, asked again"
    recent.forget("k")
    assert await recent.get("k", ask) == 2, "forgotten, asked again"


async def test_an_answer_asked_before_a_forget_is_not_kept() -> None:
    """A revocation while a read is in flight: that read must not be remembered."""
    release = asyncio.Event()
    calls = 0

    async def ask() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()
            return "before the revocation"
        return "after"

    recent: Recent[str, str] = Recent(seconds=60)
    first = asyncio.create_task(recent.get("k", ask))
    await asyncio.sleep(0)
    recent.forget("k")
    release.set()
    assert await first == "before the revocation"
    assert await recent.get("k", ask) == "after"


async def test_a_failed_query_reaches_every_waiter_and_is_not_kept() -> None:
    calls = 0

    async def ask() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)  # a query that takes a moment, so all five wait on it
        if calls == 1:
            raise OSError("database away")
        return 7

    recent: Recent[str, int] = Recent(seconds=60)
    results = await asyncio.gather(
        *(recent.get("k", ask) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, OSError) for result in results)
    assert await recent.get("k", ask) == 7


async def test_a_cancelled_asker_does_not_cancel_the_others() -> None:
    release = asyncio.Event()

    async def ask() -> int:
        await release.wait()
        return 3

    recent: Recent[str, int] = Recent(seconds=60)
    asker = asyncio.create_task(recent.get("k", ask))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(recent.get("k", ask))
    await asyncio.sleep(0)
    asker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asker
    release.set()
    assert await waiter == 3
