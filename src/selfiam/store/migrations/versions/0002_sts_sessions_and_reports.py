"""Temporary credentials (STS sessions) and credential reports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sts_sessions",
        sa.Column("access_key_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("session_token_sha256", sa.String(length=64), nullable=False),
        sa.Column("mfa_authenticated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mfa_serial_number", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_sts_sessions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_sts_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("access_key_id", name=op.f("pk_sts_sessions")),
    )
    op.create_index(op.f("ix_sts_sessions_user_id"), "sts_sessions", ["user_id"], unique=False)
    op.create_table(
        "credential_reports",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_credential_reports_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_credential_reports")),
    )


def downgrade() -> None:
    op.drop_table("credential_reports")
    op.drop_index(op.f("ix_sts_sessions_user_id"), table_name="sts_sessions")
    op.drop_table("sts_sessions")
