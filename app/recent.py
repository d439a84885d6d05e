"""Answers kept for a moment, for the few checks that run on every request of a busy page.

A JupyterLab page makes hundreds of requests through the notebook proxy, and each is
checked: the portal session, the notebook session, policy. ``Recent`` keeps each
answer for a second, and when it runs out, lets one caller ask again while the others
wait for that same answer, so fifty requests in flight never make fifty identical
database queries at the moment the answer expires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Recent"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """At most ``size`` answers, each for ``seconds``; ``forget`` drops one at once."""

    def __init__(self, seconds: float = 1.0, size: int = 4096) -> None:
        self._seconds = seconds
        self._size = size
        self._answers: dict[K, tuple[float, V]] = {}
        self._asking: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, ask: Callable[[], Awaitable[V]]) -> V:
        """The answer for ``key``: kept, being asked by another caller, or asked now."""
        kept = self._answers.get(key)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        asking = self._asking.get(key)
        if asking is not None:
            await asyncio.wait([asking])
            if asking.cancelled():  # the asker went away: ask again
                return await self.get(key, ask)
            return asking.result()
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._asking[key] = future
        try:
            answer = await ask()
        except asyncio.CancelledError:
            self._done(key, future)
            future.cancel()
            raise
        except Exception as error:
            self._done(key, future)
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" warning if none waits
            raise
        current = self._done(key, future)
        future.set_result(answer)
        if current:  # not forgotten meanwhile
            if len(self._answers) >= self._size:
                self._answers.clear()
            self._answers[key] = (time.monotonic() + self._seconds, answer)
        return answer

    def _done(self, key: K, future: asyncio.Future[V]) -> bool:
        if self._asking.get(key) is future:
            del self._asking[key]
            return True
        return False

    def forget(self, key: K) -> None:
        """Drop the answer, and do not keep one being asked right now."""
        self._answers.pop(key, None)
        self._asking.pop(key, None)

    def clear(self) -> None:
        self._answers.clear()
        self._asking.clear()
