"""Alembic environment: runs migrations with the portal's own settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers the core's tables on SQLModel.metadata
from app.db import ensure_sqlite_dir, sync_url
from app.settings import load_settings
from app.tools import installed_models

# Every installed tool's tables too, disabled or not: one history for the site, so
# enabling a tool later needs no migration of its own.
installed_models()

config = context.config
url = config.get_main_option("sqlalchemy.url") or sync_url(load_settings().database_url)
target_metadata = SQLModel.metadata


def run_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    ensure_sqlite_dir(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
