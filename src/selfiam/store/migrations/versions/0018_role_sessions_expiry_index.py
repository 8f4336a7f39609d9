"""A role's sessions indexed by expiry: AssumeRole's pruning of the role's expired sessions
read every session of the role (the index was on ``role_id`` alone), a cost that grew
with the role's live sessions. The composite index serves the role's cascade as the old
one did.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_role_sessions_role_id_expires_at", "role_sessions", ["role_id", "expires_at"]
    )
    op.drop_index("ix_role_sessions_role_id", table_name="role_sessions")


def downgrade() -> None:
    op.create_index("ix_role_sessions_role_id", "role_sessions", ["role_id"])
    op.drop_index("ix_role_sessions_role_id_expires_at", table_name="role_sessions")
