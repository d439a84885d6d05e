"""The cluster's readings, for a tool's background work (the notebooks monitor).

The one cluster watcher reads Slurm for the whole portal. A tool's ``lifespan`` that
decides from those readings finds this on ``app.state.readings``: the last reading,
and a call after each new one. It is a view, not the watcher: nothing here reads
Slurm, makes the watcher read sooner, or reaches the scheduler, the agents or any
other service. Anything a tool does about a person's jobs or files still goes through
the verb gate (``app.state.verbs``, ``call_as_service``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

from managers.scheduler import ClusterSnapshot

# listener(previous, current), called after every reading: it must be quick and must
# not wait (a monitor only wakes itself up).
Listener = Callable[[ClusterSnapshot | None, ClusterSnapshot], None]


class Watcher(Protocol):
    """What this view needs of the cluster watcher (managers/cluster_watcher.py)."""

    latest: ClusterSnapshot | None
    listeners: list[Listener]


class Readings:
    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    @property
    def latest(self) -> ClusterSnapshot | None:
        """The last reading (None before the first); an unanswered one says
        ``reachable=False`` and keeps what the one before it saw."""
        return self._watcher.latest

    @contextlib.contextmanager
    def following(self, listener: Listener) -> Iterator[None]:
        """``listener`` is called after every reading while the block runs."""
        self._watcher.listeners.append(listener)
        try:
            yield
        finally:
            self._watcher.listeners.remove(listener)


__all__ = ["Listener", "Readings"]
