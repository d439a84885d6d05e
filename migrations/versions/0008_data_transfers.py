"""Data transfers and saved data connections (the Data tool, wrappers/data).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-20

A transfer is the portal's record of one import or export, kept across restarts so
a job-based transfer is found again by its job; a connection is a named S3, SFTP or
WebDAV endpoint whose secrets are sealed (wrappers/data/vault.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "data_transfers",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("summary", sa.String(1024), nullable=False, server_default=""),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("secret_blob", sa.Text(), nullable=False),
        sa.Column("connection_id", sa.String(48), nullable=True),
        sa.Column("local_path", sa.String(4096), nullable=False),
        sa.Column("unpack", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("state", sa.String(16), nullable=False, server_default="waiting"),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("bytes_total", sa.BigInteger(), nullable=True),
        sa.Column("files_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("files_total", sa.Integer(), nullable=True),
        sa.Column("rate", sa.Float(), nullable=False, server_default="0"),
        sa.Column("current", sa.String(1024), nullable=False, server_default=""),
        sa.Column("message", sa.String(1024), nullable=False, server_default=""),
        sa.Column("error", sa.String(32), nullable=False, server_default=""),
        sa.Column("offered_host_key", sa.String(4096), nullable=False, server_default=""),
        sa.Column("offered_fingerprint", sa.String(128), nullable=False, server_default=""),
        sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("results", sa.Text(), nullable=False),
        sa.Column("runs_as", sa.String(8), nullable=False, server_default="agent"),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("notify_email", sa.String(320), nullable=False, server_default=""),
        sa.Column("retries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_data_transfers_owner", "data_transfers", ["owner"])
    op.create_index("ix_data_transfers_state", "data_transfers", ["state"])
    op.create_index("ix_data_transfers_job_id", "data_transfers", ["job_id"])
    op.create_index("ix_data_transfers_token", "data_transfers", ["token"], unique=True)
    op.create_table(
        "data_connections",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("secret_blob", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_data_connections_owner_name"),
    )
    op.create_index("ix_data_connections_owner", "data_connections", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_data_connections_owner", table_name="data_connections")
    op.drop_table("data_connections")
    for column in ("token", "job_id", "state", "owner"):
        op.drop_index(f"ix_data_transfers_{column}", table_name="data_transfers")
    op.drop_table("data_transfers")
