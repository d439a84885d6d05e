"""The database engine, sessions, and the check that the schema is current.

The portal refuses to start on a schema older than its code: a half-migrated
database loses data in ways nobody sees until later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

REPO_ROOT = Path(__file__).resolve().parent.parent

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg2"}


class SchemaBehindError(RuntimeError):
    """The database needs ``onestop db upgrade`` before the portal may use it."""


def _with_driver(url: str, drivers: dict[str, str]) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(
            f"Unsupported database {backend!r}: use sqlite:///path or postgresql://host/db"
        )
    return parsed.set(drivername=drivers[backend]).render_as_string(hide_password=False)


def async_url(url: str) -> str:
    """The URL the web process uses (aiosqlite or asyncpg)."""
    return _with_driver(url, _ASYNC_DRIVERS)


def sync_url(url: str) -> str:
    """The URL Alembic uses (sqlite or psycopg2)."""
    return _with_driver(url, _SYNC_DRIVERS)


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file so a fresh install needs no manual step."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str) -> AsyncEngine:
    """The async engine for ``url``; ``pool_pre_ping`` survives a PostgreSQL restart.

    SQLite runs in WAL mode with ``synchronous=NORMAL``: every verb writes an audit
    row, and a full fsync per commit would cost milliseconds each; WAL keeps commits
    atomic and durable across a process crash (only an OS crash may lose the last ones,
    which the structured log also holds).
    """
    ensure_sqlite_dir(url)
    engine = create_async_engine(async_url(url), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (handlers read them)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the block ends, roll back if it raises."""
    async with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


async def check_schema(engine: AsyncEngine, url: str) -> None:
    """Raise SchemaBehindError unless the database is at the code's head revision."""

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        revision = await connection.run_sync(current)
    head = head_revision(url)
    if revision != head:
        raise SchemaBehindError(
            f"The database schema is at revision {revision or 'none'} but this version of "
            f"Onestop needs {head}. Run 'onestop db upgrade' and start the portal again."
        )
