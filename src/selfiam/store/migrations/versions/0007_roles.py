"""Role sessions: the temporary credentials AssumeRole issues.

The ``roles``, ``role_policy_attachments``, role inline policies and role tags
exist since 0001; this adds the sessions of roles, which end with their role
and with the user who started them (both FKs cascade).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_sessions",
        sa.Column("access_key_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("role_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("issuer_access_key_id", sa.String(length=32), nullable=True),
        sa.Column("chained", sa.Boolean(), nullable=False),
        sa.Column("session_name", sa.String(length=64), nullable=False),
        sa.Column("source_identity", sa.String(length=64), nullable=True),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("session_token_sha256", sa.String(length=64), nullable=False),
        sa.Column("mfa_authenticated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mfa_serial_number", sa.String(length=256), nullable=True),
        sa.Column("session_policy", sa.Text(), nullable=True),
        sa.Column("session_policy_arns", sa.Text(), nullable=True),
        sa.Column("session_tags", sa.Text(), nullable=True),
        sa.Column("transitive_tag_keys", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"],
            name=op.f("fk_role_sessions_account_id_accounts"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.role_id"],
            name=op.f("fk_role_sessions_role_id_roles"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"],
            name=op.f("fk_role_sessions_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("access_key_id", name=op.f("pk_role_sessions")),
    )
    op.create_index(op.f("ix_role_sessions_role_id"), "role_sessions", ["role_id"], unique=False)
    op.create_index(op.f("ix_role_sessions_user_id"), "role_sessions", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_role_sessions_user_id"), table_name="role_sessions")
    op.drop_index(op.f("ix_role_sessions_role_id"), table_name="role_sessions")
    op.drop_table("role_sessions")
