"""Notebook sessions: Jupyter servers run as Slurm jobs, and who may use them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# The default rule this version adds (app/policy/default_policy.csv): people start,
# read, stop and connect to their own sessions. An empty policy table is seeded at
# start with all defaults; a table seeded by an earlier version gets it here (once,
# so a rule an admin later removes stays removed).
NEW_RULES = [
    {"ptype": "p", "v0": "user", "v1": "*", "v2": "notebook:{sub}/**", "v3": action}
    for action in ("(start|read|stop|connect)",)
]
_RULES = sa.table(
    "casbin_rule", *(sa.column(name, sa.String) for name in ("ptype", "v0", "v1", "v2", "v3"))
)
_INDEXED = ("owner", "job_id", "state")


def upgrade() -> None:
    op.create_table(
        "notebook_sessions",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("label", sa.String(128), nullable=False, server_default=""),
        sa.Column("interface", sa.String(16), nullable=False, server_default="lab"),
        sa.Column("folder", sa.String(4096), nullable=False, server_default=""),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("ended_reason", sa.String(255), nullable=False, server_default=""),
        sa.Column("partition", sa.String(64), nullable=False, server_default=""),
        sa.Column("cores", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("memory_mb", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("time_minutes", sa.Integer(), nullable=False, server_default="60"),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    for column in _INDEXED:
        op.create_index(f"ix_notebook_sessions_{column}", "notebook_sessions", [column])
    op.create_index("ix_notebook_sessions_token", "notebook_sessions", ["token"], unique=True)
    seeded = op.get_bind().execute(sa.select(sa.func.count()).select_from(_RULES)).scalar()
    if seeded:
        op.bulk_insert(_RULES, NEW_RULES)


def downgrade() -> None:
    for rule in NEW_RULES:
        op.execute(
            _RULES.delete().where(*(getattr(_RULES.c, key) == value for key, value in rule.items()))
        )
    op.drop_index("ix_notebook_sessions_token", table_name="notebook_sessions")
    for column in _INDEXED:
        op.drop_index(f"ix_notebook_sessions_{column}", table_name="notebook_sessions")
    op.drop_table("notebook_sessions")
