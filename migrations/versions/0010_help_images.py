"""Screenshots added to help questions (the Help tool, wrappers/help).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "help_images",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(16), sa.ForeignKey("help_tickets.id"), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_help_images_ticket_id", "help_images", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_help_images_ticket_id", table_name="help_images")
    op.drop_table("help_images")
