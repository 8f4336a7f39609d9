"""OpenID Connect providers, and role sessions started with a web identity.

Adds ``oidc_providers`` (CreateOpenIDConnectProvider). A session started by
AssumeRoleWithWebIdentity has no IAM user behind it: ``role_sessions.user_id``
becomes nullable and ``role_sessions.oidc_provider_id`` names the provider whose
token started the chain (deleting the provider ends its sessions).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_providers",
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("client_ids", sa.Text(), nullable=False),
        sa.Column("thumbprints", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_oidc_providers_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_oidc_providers")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_oidc_providers_account_id_name")),
    )
    with op.batch_alter_table("role_sessions") as batch:
        batch.alter_column("user_id", existing_type=sa.String(length=32), nullable=True)
        batch.add_column(sa.Column("oidc_provider_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            op.f("fk_role_sessions_oidc_provider_id_oidc_providers"),
            "oidc_providers",
            ["oidc_provider_id"],
            ["provider_id"],
            ondelete="CASCADE",
        )
        batch.create_index(
            op.f("ix_role_sessions_oidc_provider_id"), ["oidc_provider_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("role_sessions") as batch:
        batch.drop_index(op.f("ix_role_sessions_oidc_provider_id"))
        batch.drop_constraint(
            op.f("fk_role_sessions_oidc_provider_id_oidc_providers"), type_="foreignkey"
        )
        batch.drop_column("oidc_provider_id")
    op.execute("DELETE FROM role_sessions WHERE user_id IS NULL")
    with op.batch_alter_table("role_sessions") as batch:
        batch.alter_column("user_id", existing_type=sa.String(length=32), nullable=False)
    op.drop_table("oidc_providers")
