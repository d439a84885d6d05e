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

    MAX_ADDRESSES = 10_000

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        if len(self._hits) > self.MAX_ADDRESSES:
            self._forget_quiet(now)
        hits = self._hits[address]
        while hits and now - hits[0] > 60:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        return True

    def _forget_quiet(self, now: float) -> None:
        """Drop addresses not seen for a minute, so memory stays bounded under a scan."""
        self._hits = defaultdict(
            deque, {key: hits for key, hits in self._hits.items() if hits and now - hits[-1] <= 60}
        )
