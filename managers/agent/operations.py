"""What an agent can be asked to do: a table of named operations.

The agent's own operations are here; every other one is a tool's, registered under
the entry point group ``onestop.agent_operations`` (one mapping per tool, named after
it), so nothing in this package names a tool. ``heavy`` operations count against the
per-user cap; ``returns_fd`` ones hand an open file back over the Unix socket instead
of bytes.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "onestop.agent_operations"


@dataclass(frozen=True)
class Operation:
    run: Callable[..., Any]
    heavy: bool = False
    returns_fd: bool = False
    # Offered to other login nodes through the TLS gateway.
    remote: bool = True
    # Waits for something to happen (a folder to change): the portal runs it in
    # threads of its own, so open folder tabs never hold up quick calls (client.py).
    long_wait: bool = False


def _sleep(seconds: float) -> dict[str, Any]:
    """A stand-in heavy operation for tests of the per-user cap (bounded to 10 s)."""
    time.sleep(min(float(seconds), 10.0))
    return {"slept": seconds}


# Exists for the tests of the per-person cap; not a verb, not offered remotely.
CORE_OPERATIONS: dict[str, Operation] = {
    "agent.sleep": Operation(_sleep, heavy=True, remote=False),
}


def merge(tables: Mapping[str, Mapping[str, Operation]]) -> dict[str, Operation]:
    """The core's operations and each tool's, refusing a name given twice or one
    outside the tool's own prefix (a tool cannot replace another's operation)."""
    merged = dict(CORE_OPERATIONS)
    for tool, table in sorted(tables.items()):
        for name, operation in table.items():
            if not name.startswith(f"{tool}."):
                raise ValueError(f"tool {tool!r} registers agent operation {name!r}")
            if name in merged:
                raise ValueError(f"agent operation {name!r} is registered twice")
            merged[name] = operation
    return merged


@functools.cache
def installed() -> dict[str, Operation]:
    """Every installed tool's operations (read once per agent process)."""
    tables = {entry.name: entry.load() for entry in entry_points(group=ENTRY_POINT_GROUP)}
    return merge(tables)


def remote_names() -> frozenset[str]:
    return frozenset(name for name, op in installed().items() if op.remote)


@functools.cache
def long_waits() -> frozenset[str]:
    return frozenset(name for name, op in installed().items() if op.long_wait)
