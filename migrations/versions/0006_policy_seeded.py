"""Which default policy rules each site has been given (app/policy/seeding.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

From this version on, the portal adds a default rule (the core's or a tool's) at
the first start that brings it and records it in ``policy_seeded``; a recorded rule
an administrator removed is not added again. Migrations no longer add rules.

A site whose table was filled by an earlier version has every core default of that
version either still in place or removed by an administrator: earlier versions
seeded them all into the empty table and migrations 0003 to 0005 added the later
ones to a filled table. So each of those rules (``PREVIOUS_CORE_RULES``) is recorded
here as seeded, present or not, and an absent one stays absent. Tool rules are not
recorded: earlier versions put them back at every start, so none can have been
removed on purpose, and the next start adds and records them like new ones. Rules
that are new in this version are not in the list, so the next start adds them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

# The core's default_policy.csv as of revision 0005, frozen: it is what an existing
# site was given, whatever later versions ship.
PREVIOUS_CORE_RULES = [
    ("user", "*", "file:/**", "(list|stat|read|write|share)"),
    ("user", "*", "job:{sub}/**", "(submit|cancel|read)"),
    ("user", "*", "cluster:**", "read"),
    ("user", "*", "notification:{sub}/**", "(read|write)"),
    ("user", "*", "notebook:{sub}/**", "(start|read|stop|connect)"),
    ("project-admin", "*", "job:**", "(cancel|read)"),
    ("user", "*", "template:personal/{sub}/**", "(read|write|delete)"),
    ("member", "*", "template:project/{dom}/**", "(read|write)"),
    ("member", "*", "template:project/{dom}/{sub}/*", "delete"),
    ("project-admin", "*", "template:project/{dom}/**", "(read|write|delete)"),
    ("user", "*", "template:site/*", "read"),
    ("staff", "*", "job:**", "read"),
    ("staff", "*", "cluster:**", "read"),
    ("staff", "*", "session:**", "read"),
    ("staff", "*", "policy:**", "read"),
    ("admin", "*", "**", ".*"),
]
_CASBIN_RULES = sa.table("casbin_rule", sa.column("id", sa.Integer))


def upgrade() -> None:
    seeded = op.create_table(
        "policy_seeded",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("role", sa.String(255), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("object", sa.String(255), nullable=False),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("seeded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("role", "domain", "object", "action", name="uq_policy_seeded_rule"),
    )
    # The same test as the seeding of earlier versions: any row means it was seeded.
    filled = op.get_bind().execute(sa.select(_CASBIN_RULES.c.id).limit(1)).first()
    if filled is not None:
        now = datetime.now(UTC)
        op.bulk_insert(
            seeded,
            [
                {
                    "role": role,
                    "domain": domain,
                    "object": obj,
                    "action": action,
                    "source": "core",
                    "seeded_at": now,
                }
                for role, domain, obj, action in PREVIOUS_CORE_RULES
            ],
        )


def downgrade() -> None:
    # The rules stay in casbin_rule; earlier versions never seed a filled table.
    op.drop_table("policy_seeded")
