"""The notebooks tool's agent operations: the session folder and its secret, then
sbatch and scancel as the person (registered under ``onestop.agent_operations``)."""

from __future__ import annotations

from managers.agent.operations import Operation
from managers.notebooks import operations as notebooks

OPERATIONS: dict[str, Operation] = {
    "notebooks.start": Operation(notebooks.start),
    "notebooks.stop": Operation(notebooks.stop),
    "notebooks.forget": Operation(notebooks.forget),
}
