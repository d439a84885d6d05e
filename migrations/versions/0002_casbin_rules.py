"""Casbin policy rules and role assignments.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "casbin_rule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ptype", sa.String(255), nullable=False),
        *(sa.Column(f"v{index}", sa.String(255), nullable=True) for index in range(6)),
    )


def downgrade() -> None:
    op.drop_table("casbin_rule")
