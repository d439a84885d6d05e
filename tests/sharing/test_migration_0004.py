"""Migration 0004 gives an already-seeded policy the ``share`` file action, and
takes it back on downgrade."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from app.db import alembic_config, sync_url
from app.tools import discover

OLD = "(list|stat|read|write)"
NEW = "(list|stat|read|write|share)"


def file_rule(url: str) -> list[str]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT v3 FROM casbin_rule WHERE v0 = 'user' AND v2 = 'file:/**'")
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def test_a_seeded_policy_gains_share(sqlite_url: str) -> None:
    config = alembic_config(sqlite_url)
    command.upgrade(config, "0003")
    engine = create_engine(sync_url(sqlite_url))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO casbin_rule (ptype, v0, v1, v2, v3) VALUES ('p', 'user', '*', 'file:/**', :a)"
            ),
            {"a": OLD},
        )
    engine.dispose()
    command.upgrade(config, "0004")
    assert file_rule(sqlite_url) == [NEW]
    # The rule the migration writes is the one the files tool ships (Tool.policy).
    shipped = next(tool for tool in discover() if tool.name == "files").rules()
    assert ("user", "*", "file:/**", NEW) in [tuple(rule) for rule in shipped]
    command.downgrade(config, "0003")
    assert file_rule(sqlite_url) == [OLD]
