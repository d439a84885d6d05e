"""Job templates (the job composer), notifications and e-mail-on-end requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# The default rules this version adds (app/policy/default_policy.csv): people read
# and mark their own notifications, and use templates (their own, their projects',
# the site's). An empty policy table is seeded at start with all defaults; a site
# whose table was seeded by an earlier version gets these here (once, by the
# migration, so a rule an admin later removes stays removed).
NEW_RULES = [
    {"ptype": "p", "v0": role, "v1": "*", "v2": obj, "v3": action}
    for role, obj, action in (
        ("user", "notification:{sub}/**", "(read|write)"),
        ("user", "template:personal/{sub}/**", "(read|write|delete)"),
        ("member", "template:project/{dom}/**", "(read|write)"),
        ("member", "template:project/{dom}/{sub}/*", "delete"),
        ("project-admin", "template:project/{dom}/**", "(read|write|delete)"),
        ("user", "template:site/*", "read"),
    )
]
_RULES = sa.table(
    "casbin_rule", *(sa.column(name, sa.String) for name in ("ptype", "v0", "v1", "v2", "v3"))
)


def upgrade() -> None:
    op.create_table(
        "job_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False, server_default="personal"),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("project", sa.String(64), nullable=False, server_default=""),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("fields", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("script", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("scope", "owner", "project"):
        op.create_index(f"ix_job_templates_{column}", "job_templates", [column])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False, server_default=""),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("url", sa.String(1024), nullable=False, server_default=""),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
    )
    for column in ("user", "at", "subject"):
        op.create_index(f"ix_notifications_{column}", "notifications", [column])
    op.create_table(
        "job_watches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("job_id", "email", name="uq_job_watches_job_email"),
    )
    op.create_index("ix_job_watches_job_id", "job_watches", ["job_id"])
    seeded = op.get_bind().execute(sa.select(sa.func.count()).select_from(_RULES)).scalar()
    if seeded:
        op.bulk_insert(_RULES, NEW_RULES)


def downgrade() -> None:
    for rule in NEW_RULES:
        op.execute(
            _RULES.delete().where(*(getattr(_RULES.c, key) == value for key, value in rule.items()))
        )
    op.drop_index("ix_job_watches_job_id", table_name="job_watches")
    op.drop_table("job_watches")
    for column in ("user", "at", "subject"):
        op.drop_index(f"ix_notifications_{column}", table_name="notifications")
    op.drop_table("notifications")
    for column in ("scope", "owner", "project"):
        op.drop_index(f"ix_job_templates_{column}", table_name="job_templates")
    op.drop_table("job_templates")
