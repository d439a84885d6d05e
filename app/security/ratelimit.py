"""A small per-address limit on sign-in attempts, so guessing is slow and noisy."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class LoginRateLimiter:
    """Sliding one-minute window per client address, held in memory.

    Each portal instance counts on its own; with several instances the effective
    limit is higher, which is acceptable for a throttle (the provider has its own).
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        hits = self._hits[address]
        while hits and now - hits[0] > 60:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        if len(self._hits) > 10_000:
            self._hits = defaultdict(deque, {k: v for k, v in self._hits.items() if v})
        return True
