"""The role session a portal session wears ("Switch role").

``role_sessions.portal_session_id`` names the portal session that wears a role
session (NULL for sessions whose credentials were handed out: the API's and the
portal's "credentials for the command line"). The foreign key cascades, so the
database ends the worn role session with its portal session (sign-out, timeout,
a password changed elsewhere, the member deleted); deleting the role ends it too
(``role_sessions.role_id`` cascades), and the portal session then wears nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("role_sessions") as batch:
        batch.add_column(sa.Column("portal_session_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            op.f("fk_role_sessions_portal_session_id_portal_sessions"),
            "portal_sessions",
            ["portal_session_id"],
            ["session_id"],
            ondelete="CASCADE",
        )
        batch.create_index(
            op.f("ix_role_sessions_portal_session_id"), ["portal_session_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("role_sessions") as batch:
        batch.drop_index(op.f("ix_role_sessions_portal_session_id"))
        batch.drop_constraint(
            op.f("fk_role_sessions_portal_session_id_portal_sessions"), type_="foreignkey"
        )
        batch.drop_column("portal_session_id")
