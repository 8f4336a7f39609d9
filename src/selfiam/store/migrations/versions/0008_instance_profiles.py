"""Trust policies' principals by unique id, instance profiles, service-linked
roles, federation tokens.

Revision ID: 0008
Revises: 0007 (the lead relinks the chain when merging)
Create Date: 2026-12-01

Written out in full: a migration imports nothing from selfiam.
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
        "role_trust_principals",
        sa.Column("role_id", sa.String(length=32), nullable=False),
        sa.Column("principal_ids", sa.Text(), nullable=False),
        sa.Column("document_by_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["roles.role_id"],
            name=op.f("fk_role_trust_principals_role_id_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role_id", name=op.f("pk_role_trust_principals")),
    )
    op.create_table(
        "instance_profiles",
        sa.Column("instance_profile_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_lower", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_instance_profiles_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_profile_id", name=op.f("pk_instance_profiles")),
        sa.UniqueConstraint(
            "account_id", "name_lower", name=op.f("uq_instance_profiles_account_id_name_lower")
        ),
    )
    op.create_table(
        "instance_profile_roles",
        sa.Column("instance_profile_id", sa.String(length=32), nullable=False),
        sa.Column("role_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_profile_id"],
            ["instance_profiles.instance_profile_id"],
            name=op.f("fk_instance_profile_roles_instance_profile_id_instance_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["roles.role_id"],
            name=op.f("fk_instance_profile_roles_role_id_roles"),
        ),
        sa.PrimaryKeyConstraint("instance_profile_id", name=op.f("pk_instance_profile_roles")),
    )
    op.create_index(
        op.f("ix_instance_profile_roles_role_id"), "instance_profile_roles", ["role_id"]
    )
    op.create_table(
        "role_deletion_tasks",
        sa.Column("task_id", sa.String(length=1024), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_role_deletion_tasks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_role_deletion_tasks")),
    )
    op.create_table(
        "service_linked_roles",
        sa.Column("role_id", sa.String(length=32), nullable=False),
        sa.Column("service_name", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.role_id"],
            name=op.f("fk_service_linked_roles_role_id_roles"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role_id", name=op.f("pk_service_linked_roles")),
    )
    op.create_table(
        "federation_sessions",
        sa.Column("access_key_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("session_token_sha256", sa.String(length=64), nullable=False),
        sa.Column("session_policy", sa.Text(), nullable=True),
        sa.Column("session_policy_arns", sa.Text(), nullable=True),
        sa.Column("session_tags", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"],
            name=op.f("fk_federation_sessions_account_id_accounts"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"],
            name=op.f("fk_federation_sessions_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("access_key_id", name=op.f("pk_federation_sessions")),
    )
    op.create_index(
        op.f("ix_federation_sessions_user_id"), "federation_sessions", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_federation_sessions_user_id"), table_name="federation_sessions")
    op.drop_table("federation_sessions")
    op.drop_table("service_linked_roles")
    op.drop_table("role_deletion_tasks")
    op.drop_index(op.f("ix_instance_profile_roles_role_id"), table_name="instance_profile_roles")
    op.drop_table("instance_profile_roles")
    op.drop_table("instance_profiles")
    op.drop_table("role_trust_principals")
