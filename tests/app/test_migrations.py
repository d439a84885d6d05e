"""Alembic on SQLite and on the PostgreSQL server: up, down, up, and models == migrations."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers the core's tables
from app.db import SchemaBehindError, alembic_config, check_schema, sync_url
from app.db import create_engine as create_async_engine
from app.tools import installed_models
from tests.conftest import ONESTOP, portal_env


def tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def differences(url: str) -> list[object]:
    installed_models()  # every tool's tables too, as migrations/env.py does
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))
    finally:
        engine.dispose()


ALL_TABLES = {
    "users",
    "web_sessions",
    "audit_events",
    "casbin_rule",
    "job_templates",
    "notifications",
    "job_watches",
    "file_shares",
    "public_links",
    "notebook_sessions",
    "policy_seeded",
    "notebook_passes",
    "data_transfers",
    "data_connections",
    "help_tickets",
    "help_messages",
    "help_images",
}


@pytest.mark.parametrize("backend", ["sqlite_url", "postgres_url"])
def test_upgrade_downgrade_upgrade(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(backend)
    config = alembic_config(url)
    command.upgrade(config, "head")
    assert tables(url) == ALL_TABLES
    assert differences(url) == [], "the models and the migrations disagree"
    # The same, as an admin or a contributor would ask it: nothing to generate.
    command.check(config)
    command.downgrade(config, "base")
    assert tables(url) == set()
    command.upgrade(config, "head")
    assert tables(url) == ALL_TABLES


def test_the_portal_refuses_a_schema_that_is_behind(sqlite_url: str) -> None:
    async def check() -> None:
        engine = create_async_engine(sqlite_url)
        try:
            await check_schema(engine, sqlite_url)
        finally:
            await engine.dispose()

    with pytest.raises(SchemaBehindError, match="onestop db upgrade"):
        asyncio.run(check())
    command.upgrade(alembic_config(sqlite_url), "head")
    asyncio.run(check())


def test_serve_names_the_upgrade_command(sqlite_url: str) -> None:
    done = subprocess.run(
        [ONESTOP, "serve", "--port", "8011"],
        env=portal_env(sqlite_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "onestop db upgrade" in done.stderr
    assert "Traceback" not in done.stderr


def test_rules_added_by_migrations_are_shipped_defaults() -> None:
    """A site upgraded in place gets the same rules a new site is seeded with."""
    import importlib.util

    from app.db import REPO_ROOT
    from app.policy.defaults import default_rules
    from app.tools import discover

    shipped = [tuple(rule) for rule in default_rules()]
    shipped += [tuple(rule) for tool in discover() for rule in tool.rules()]
    for name in ("0003_templates_notifications", "0005_notebook_sessions"):
        path = REPO_ROOT / f"migrations/versions/{name}.py"
        spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.NEW_RULES
        for row in module.NEW_RULES:
            assert (row["v0"], row["v1"], row["v2"], row["v3"]) in shipped, row
