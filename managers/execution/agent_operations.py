"""The execution manager's agent operations: the jobs tool's sbatch, scancel and
scontrol, run as the person (registered under ``onestop.agent_operations``)."""

from __future__ import annotations

from managers.agent.operations import Operation
from managers.execution import operations as execution

OPERATIONS: dict[str, Operation] = {
    "jobs.submit": Operation(execution.submit),
    "jobs.cancel": Operation(execution.cancel),
    "jobs.hold": Operation(execution.hold),
    "jobs.release": Operation(execution.release),
    "jobs.script": Operation(execution.batch_script),
}
