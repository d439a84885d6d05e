"""A verb gate in this process with real parts: Casbin on a fresh database, agents
started by the real launcher, real Slurm."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.security.sessions import Identity
from app.verbs import VerbGate
from managers.agent.client import AgentClient
from tests.agents.conftest import agents, runtime
from tests.helpers import local_gate

__all__ = ["agents", "runtime"]


async def _ignore(audience: str | None, payload: dict[str, Any]) -> None:
    return None


class Harness:
    def __init__(self, gate: VerbGate, database: Any) -> None:
        self.auditor = gate.auditor
        self.gate = gate
        self.database = database

    def person(self, unix_name: str, *, recent: bool = False) -> Identity:
        return Identity(0, unix_name, unix_name.title(), "", int(time.time()) if recent else None)

    async def audit(self, action: str) -> list[tuple[str, str, str]]:
        from sqlmodel import select

        from app.models import AuditEvent

        await self.auditor.flush()
        async with self.database() as db:
            rows = await db.exec(select(AuditEvent).where(AuditEvent.action == action))
            return [(row.actor, row.object, row.outcome) for row in rows.all()]


@pytest.fixture
async def harness(
    sqlite_url: str,
    agents: AgentClient,
) -> AsyncIterator[Harness]:
    built = await local_gate(sqlite_url, agents)
    gate, database, policy = built.gate, built.database, built.services.policy
    for name, projects, admin in [
        ("alice", ["chem"], False),
        ("bob", ["chem"], False),
        ("carol", ["physics"], False),
        ("erin", [], True),
    ]:
        await policy.sync_derived_roles(name, projects=projects, is_admin=admin)
    await policy.grant("carol", "staff", "*")
    yield Harness(gate, database)
    await built.close()
