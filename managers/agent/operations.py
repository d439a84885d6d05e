"""What an agent can be asked to do: a fixed table of named operations.

``heavy`` operations count against the per-user cap; ``returns_fd`` ones hand an
open file back over the Unix socket instead of bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from managers.execution import operations as execution
from managers.files import operations as files


@dataclass(frozen=True)
class Operation:
    run: Callable[..., Any]
    heavy: bool = False
    returns_fd: bool = False
    # Offered to other login nodes through the TLS gateway.
    remote: bool = True


def _sleep(seconds: float) -> dict[str, Any]:
    """A stand-in heavy operation for tests of the per-user cap (bounded to 10 s)."""
    time.sleep(min(float(seconds), 10.0))
    return {"slept": seconds}


OPERATIONS: dict[str, Operation] = {
    "files.stat": Operation(files.stat_path),
    "files.list": Operation(files.list_folder),
    "files.read": Operation(files.open_for_reading, returns_fd=True),
    "files.write": Operation(files.write_file),
    "files.copy": Operation(files.copy, heavy=True),
    "jobs.submit": Operation(execution.submit),
    "jobs.cancel": Operation(execution.cancel),
    "jobs.hold": Operation(execution.hold),
    "jobs.release": Operation(execution.release),
    "jobs.script": Operation(execution.batch_script),
    # Exists for the tests of the per-person cap; not a verb, not offered remotely.
    "agent.sleep": Operation(_sleep, heavy=True, remote=False),
}

REMOTE_OPERATIONS = frozenset(name for name, op in OPERATIONS.items() if op.remote)
