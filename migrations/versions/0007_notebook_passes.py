"""Notebook passes: the one-time codes and cookies that open a session's own origin.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

Each notebook session is served from an origin of its own (wrappers/notebooks/proxy/),
which never sees the portal's cookie: Connect hands the browser a one-time code bound
to her portal session, and the notebook origin exchanges it for a cookie of its own.
Both are rows here, by the SHA-256 of the value the browser holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_INDEXED = ("notebook_id", "session_hash", "expires_at")


def upgrade() -> None:
    op.create_table(
        "notebook_passes",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("notebook_id", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    for column in _INDEXED:
        op.create_index(f"ix_notebook_passes_{column}", "notebook_passes", [column])


def downgrade() -> None:
    for column in _INDEXED:
        op.drop_index(f"ix_notebook_passes_{column}", table_name="notebook_passes")
    op.drop_table("notebook_passes")
