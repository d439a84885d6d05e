"""The data tool's agent operations (registered under ``onestop.agent_operations``):
what her agent does, as her, for the portal's ``data.*`` verbs."""

from __future__ import annotations

from managers.agent.operations import Operation
from managers.data import operations as data

OPERATIONS: dict[str, Operation] = {
    "data.start": Operation(data.start),
    "data.progress": Operation(data.progress),
    "data.cancel": Operation(data.cancel),
    "data.forget": Operation(data.forget),
    "data.browse": Operation(data.browse),
}
