"""A verb gate in this process with real parts: Casbin on a fresh database, agents
started by the real launcher, real Slurm."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic import command

from app.audit import Auditor
from app.db import alembic_config, create_engine, session_factory
from app.job_templates import TemplateStore
from app.logs import get_logger
from app.notebooks import Notebooks, NotebookStore
from app.notify import Mailer, NotificationStore, Notifier
from app.policy import load_policy
from app.security.sessions import Identity, SessionStore
from app.settings import load_settings
from app.shares import ShareStore
from app.verbs import Services, VerbGate
from managers.agent.client import AgentClient
from managers.cluster_watcher import ClusterWatcher
from managers.scheduler.slurm import SlurmAdapter
from tests.agents.conftest import agents, runtime

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
    command.upgrade(alembic_config(sqlite_url), "head")
    engine = create_engine(sqlite_url)
    database = session_factory(engine)
    policy = await load_policy(engine, sqlite_url)
    scheduler = SlurmAdapter()
    watcher = ClusterWatcher(scheduler, _ignore)
    await watcher.refresh()
    settings = load_settings(database_url=sqlite_url)
    services = Services(
        policy,
        agents,
        scheduler,
        watcher,
        SessionStore(database, settings),
        templates=TemplateStore(database),
        shares=ShareStore(database),
        notebooks=Notebooks(NotebookStore(database), settings.notebooks),
        notifier=Notifier(
            NotificationStore(database),
            scheduler,
            _ignore,
            Mailer(settings.mail),
            settings.public_url,
            get_logger("tests.notify"),
        ),
    )
    gate = VerbGate(services, Auditor(database))
    for name, projects, admin in [
        ("alice", ["chem"], False),
        ("bob", ["chem"], False),
        ("carol", ["physics"], False),
        ("erin", [], True),
    ]:
        await policy.sync_derived_roles(name, projects=projects, is_admin=admin)
    await policy.grant("carol", "staff", "*")
    yield Harness(gate, database)
    await gate.auditor.close()
    await engine.dispose()
