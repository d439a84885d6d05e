"""A migrated database and a loaded enforcer over it, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import alembic_config, create_engine
from app.policy import PolicyEnforcer, load_policy
from app.tools import discover, ensure_rules


def shipped_rules() -> list[list[str]]:
    """Every default rule a new site starts with, the core's first, in order."""
    from app.policy.defaults import default_rules

    return [*default_rules(), *(rule for tool in discover() for rule in tool.rules())]


async def site_policy(engine: AsyncEngine, url: str) -> PolicyEnforcer:
    """The policy a portal starts with: the core's rules and every tool's."""
    policy = await load_policy(engine, url)
    await ensure_rules(policy, discover())
    return policy


@dataclass
class PolicyDatabase:
    url: str
    engine: AsyncEngine

    async def load(self) -> PolicyEnforcer:
        """A fresh enforcer read from the database, as after a restart."""
        return await site_policy(self.engine, self.url)


@pytest.fixture(params=["sqlite_url", "postgres_url"])
async def database(request: pytest.FixtureRequest) -> AsyncIterator[PolicyDatabase]:
    url = request.getfixturevalue(request.param)
    command.upgrade(alembic_config(url), "head")
    engine = create_engine(url)
    try:
        yield PolicyDatabase(url, engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def policy(sqlite_url: str) -> AsyncIterator[PolicyEnforcer]:
    """The default policy on a fresh SQLite database."""
    command.upgrade(alembic_config(sqlite_url), "head")
    engine = create_engine(sqlite_url)
    try:
        yield await site_policy(engine, sqlite_url)
    finally:
        await engine.dispose()
