"""SAML 2.0 federation: SAML providers, redeemed assertions, federated role sessions.

``saml_providers`` holds each trusted IdP's metadata document (CreateSAMLProvider);
``saml_assertions_used`` remembers redeemed assertions until they expire (no replay,
across processes); ``role_sessions.saml_provider_id`` names the provider whose
response started a session's chain (deleting the provider ends its sessions, as
``oidc_provider_id`` does; ``user_id`` is nullable since 0008);
``saml_portal_sessions`` are portal sessions started by a SAML response, each
wearing one such role session.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saml_providers",
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_lower", sa.String(length=128), nullable=False),
        sa.Column("metadata_document", sa.Text(), nullable=False),
        sa.Column("metadata_sha256", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_saml_providers_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_saml_providers")),
        sa.UniqueConstraint(
            "account_id", "name_lower", name=op.f("uq_saml_providers_account_id_name_lower")
        ),
    )
    op.create_table(
        "saml_assertions_used",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_saml_assertions_used_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_saml_assertions_used")),
    )
    op.create_index("ix_saml_assertions_used_expires_at", "saml_assertions_used", ["expires_at"])
    with op.batch_alter_table("role_sessions") as batch:
        batch.add_column(sa.Column("saml_provider_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            op.f("fk_role_sessions_saml_provider_id_saml_providers"),
            "saml_providers",
            ["saml_provider_id"],
            ["provider_id"],
            ondelete="CASCADE",
        )
        batch.create_index(
            op.f("ix_role_sessions_saml_provider_id"), ["saml_provider_id"], unique=False
        )
    op.create_table(
        "saml_portal_sessions",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("access_key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_saml_portal_sessions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["access_key_id"],
            ["role_sessions.access_key_id"],
            name=op.f("fk_saml_portal_sessions_access_key_id_role_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_saml_portal_sessions")),
    )
    op.create_index(
        op.f("ix_saml_portal_sessions_access_key_id"), "saml_portal_sessions", ["access_key_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_saml_portal_sessions_access_key_id"), table_name="saml_portal_sessions")
    op.drop_table("saml_portal_sessions")
    op.execute("DELETE FROM role_sessions WHERE saml_provider_id IS NOT NULL")
    with op.batch_alter_table("role_sessions") as batch:
        batch.drop_index(op.f("ix_role_sessions_saml_provider_id"))
        batch.drop_constraint(
            op.f("fk_role_sessions_saml_provider_id_saml_providers"), type_="foreignkey"
        )
        batch.drop_column("saml_provider_id")
    op.drop_index("ix_saml_assertions_used_expires_at", table_name="saml_assertions_used")
    op.drop_table("saml_assertions_used")
    op.drop_table("saml_providers")
