"""The policy change counter: the principal-policy cache's own, so that credential changes
(a deleted key, a new password) no longer make every caller reload its policies.

Upgrading several nodes: stop the selfiam processes of earlier versions before starting
this one. They bump only the auth counter, so a policy change made through one of them
would not reach this version's policy caches.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STATE_VERSIONS = sa.table(
    "state_versions", sa.column("name", sa.String), sa.column("version", sa.BigInteger)
)


def upgrade() -> None:
    op.bulk_insert(_STATE_VERSIONS, [{"name": "policy", "version": 0}])


def downgrade() -> None:
    op.execute(_STATE_VERSIONS.delete().where(_STATE_VERSIONS.c.name == "policy"))
