"""A notebook session's state, in one place: what the monitor decides from Slurm and
the readiness probe, and what pages, the proxy and the store ask of it."""

from __future__ import annotations

from enum import StrEnum


class SessionState(StrEnum):
    # Its job waits in the queue.
    QUEUED = "queued"
    # Its job runs; Jupyter has not answered the probe yet.
    STARTING = "starting"
    # Jupyter answered at the address the job wrote: she may connect.
    READY = "ready"
    # Its job is over (ended_reason says why).
    ENDED = "ended"
    # The scheduler could not be asked: never taken to mean ended.
    UNKNOWN = "unknown"

    @property
    def is_over(self) -> bool:
        return self is SessionState.ENDED

    @property
    def is_waiting(self) -> bool:
        """Queued or starting: the page shows it under "starting"."""
        return self in (SessionState.QUEUED, SessionState.STARTING)

    @property
    def may_be_reachable(self) -> bool:
        """Ready, or unknown with the address kept: the proxy may try it."""
        return self in (SessionState.READY, SessionState.UNKNOWN)


ACTIVE_STATES = (
    SessionState.QUEUED,
    SessionState.STARTING,
    SessionState.READY,
    SessionState.UNKNOWN,
)
