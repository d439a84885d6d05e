"""Help tickets and their threads (the Help tool, wrappers/help).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

A ticket is one question asked from a page of the portal, with the context she kept;
a message is one entry of its thread (her reply, a staff reply, a staff-only note).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "help_tickets",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("title", sa.String(1000), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="open"),
        sa.Column("project", sa.String(64), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("page", sa.String(2048), nullable=False, server_default=""),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("attachments", sa.Text(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("author", "state", "project", "assignee"):
        op.create_index(f"ix_help_tickets_{column}", "help_tickets", [column])
    op.create_index("ix_help_tickets_token", "help_tickets", ["token"], unique=True)
    op.create_table(
        "help_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(16), sa.ForeignKey("help_tickets.id"), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_help_messages_ticket_id", "help_messages", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_help_messages_ticket_id", table_name="help_messages")
    op.drop_table("help_messages")
    for column in ("token", "assignee", "project", "state", "author"):
        op.drop_index(f"ix_help_tickets_{column}", table_name="help_tickets")
    op.drop_table("help_tickets")
