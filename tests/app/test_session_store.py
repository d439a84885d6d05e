"""The session store against a real database file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command

from app.db import alembic_config, create_engine, session_factory, transaction
from app.models import WebSession, utcnow
from app.security.sessions import SessionStore, hash_token
from app.settings import load_settings


@pytest.mark.parametrize("backend", ["sqlite_url", "postgres_url"])
async def test_purge_removes_only_long_ended_sessions(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(backend)
    command.upgrade(alembic_config(url), "head")
    engine = create_engine(url)
    sessions = session_factory(engine)
    store = SessionStore(sessions, load_settings(database_url=url))
    now = utcnow()
    rows = {
        "live": WebSession(id_hash=hash_token("live"), expires_at=now + timedelta(hours=1)),
        "expired-long-ago": WebSession(
            id_hash=hash_token("old"),
            created_at=now - timedelta(days=3),
            last_seen_at=now - timedelta(days=3),
            expires_at=now - timedelta(days=2),
        ),
        "revoked-just-now": WebSession(
            id_hash=hash_token("revoked"), expires_at=now + timedelta(hours=1), revoked_at=now
        ),
    }
    async with transaction(sessions) as db:
        for row in rows.values():
            db.add(row)
    assert await store.purge() == 1
    async with sessions() as db:
        left = {row.id_hash for row in (await db.exec(WebSession.__table__.select())).all()}
    assert left == {hash_token("live"), hash_token("revoked")}
    assert await store.revoke(hash_token("revoked")) == 0, "already ended"
    assert await store.revoke(hash_token("live")) == 1
    await engine.dispose()
