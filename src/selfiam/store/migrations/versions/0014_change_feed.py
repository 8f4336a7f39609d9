"""The change feed replaces the two global counters of ``state_versions``.

Every write used to bump one of two rows that every request read: invalidation was
account-wide and every writer serialized on the row. Writes now name what they changed
(``store/change_feed.py``): NOTIFY payloads on PostgreSQL, rows of ``changes`` on SQLite.

Upgrading several nodes: stop the selfiam processes of earlier versions before starting
this one (they would keep bumping a table that is gone, and never hear of the changes
this version's nodes make).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("change_key", sa.String(length=600), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    op.drop_table("state_versions")


def downgrade() -> None:
    op.create_table(
        "state_versions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_state_versions")),
    )
    op.bulk_insert(
        sa.table(
            "state_versions", sa.column("name", sa.String), sa.column("version", sa.BigInteger)
        ),
        [{"name": "auth", "version": 0}, {"name": "policy", "version": 0}],
    )
    op.drop_table("changes")
