"""File shares (POSIX ACLs set by the owner's agent) and public links.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# The file verbs gain the "share" action (permissions, shares, public links). A site
# whose policy table was seeded earlier has the old row; it is replaced here (and put
# back on downgrade). An empty table is seeded at start with the current defaults.
OLD_RULE = {"ptype": "p", "v0": "user", "v1": "*", "v2": "file:/**", "v3": "(list|stat|read|write)"}
NEW_RULE = {**OLD_RULE, "v3": "(list|stat|read|write|share)"}
_RULES = sa.table(
    "casbin_rule", *(sa.column(name, sa.String) for name in ("ptype", "v0", "v1", "v2", "v3"))
)


def _swap(old: dict[str, str], new: dict[str, str]) -> None:
    op.execute(
        _RULES.update()
        .where(*(getattr(_RULES.c, key) == value for key, value in old.items()))
        .values(v3=new["v3"])
    )


def upgrade() -> None:
    op.create_table(
        "file_shares",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("grantee_kind", sa.String(8), nullable=False),
        sa.Column("grantee", sa.String(64), nullable=False),
        sa.Column("access", sa.String(8), nullable=False),
        sa.Column("record", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_file_shares_owner", "file_shares", ["owner"])
    op.create_index("ix_file_shares_grantee", "file_shares", ["grantee"])
    op.create_table(
        "public_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False, server_default="file"),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False, server_default=""),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("downloads", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_public_links_owner", "public_links", ["owner"])
    _swap(OLD_RULE, NEW_RULE)


def downgrade() -> None:
    _swap(NEW_RULE, OLD_RULE)
    op.drop_index("ix_public_links_owner", table_name="public_links")
    op.drop_table("public_links")
    op.drop_index("ix_file_shares_grantee", table_name="file_shares")
    op.drop_index("ix_file_shares_owner", table_name="file_shares")
    op.drop_table("file_shares")
