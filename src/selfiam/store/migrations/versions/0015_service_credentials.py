"""Service-specific credentials (users' CodeCommit/Keyspaces passwords and Bedrock/Logs API
keys, sealed) and server certificates (the private key sealed).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_specific_credentials",
        sa.Column("credential_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("service_name", sa.String(length=64), nullable=False),
        sa.Column("service_user_name", sa.String(length=200), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('Active', 'Inactive')",
            name=op.f("ck_service_specific_credentials_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_service_specific_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_service_specific_credentials")),
    )
    op.create_index(
        "ix_service_specific_credentials_user_id_service_name",
        "service_specific_credentials",
        ["user_id", "service_name"],
    )
    op.create_table(
        "server_certificates",
        sa.Column("server_certificate_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_lower", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=True),
        sa.Column("private_key_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_server_certificates_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("server_certificate_id", name=op.f("pk_server_certificates")),
        sa.UniqueConstraint(
            "account_id", "name_lower", name=op.f("uq_server_certificates_account_id_name_lower")
        ),
    )


def downgrade() -> None:
    op.execute("DELETE FROM tags WHERE resource_type = 'server-cert'")
    op.drop_table("server_certificates")
    op.drop_index(
        "ix_service_specific_credentials_user_id_service_name",
        table_name="service_specific_credentials",
    )
    op.drop_table("service_specific_credentials")
