"""Trust policies' principals by unique id, instance profiles, service-linked
roles, federation tokens.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Written out in full: a migration imports nothing from selfiam. Roles created before
this revision get their trust policy's user and role ARNs recorded by the unique ids
they name now, as saving the policy again would (service/trust_principals.py), so that
a principal deleted and created again afterwards is not trusted by them either.
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
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
            ["role_id"],
            ["roles.role_id"],
            name=op.f("fk_service_linked_roles_role_id_roles"),
            ondelete="CASCADE",
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
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_federation_sessions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_federation_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("access_key_id", name=op.f("pk_federation_sessions")),
    )
    op.create_index(op.f("ix_federation_sessions_user_id"), "federation_sessions", ["user_id"])
    _backfill_trust_principals()


_ENTITY_ARN = re.compile(r"arn:[\w-]+:iam::(\d{12}):(user|role)/(.*)")


def _aws_principals(document: Any) -> list[Any]:
    """Every "AWS" principal value of a parsed policy (Principal and NotPrincipal), as
    the lists or strings that hold them."""
    statements = document.get("Statement") if isinstance(document, dict) else None
    found: list[Any] = []
    for stmt in statements if isinstance(statements, list) else [statements]:
        for element in ("Principal", "NotPrincipal"):
            spec = stmt.get(element) if isinstance(stmt, dict) else None
            if isinstance(spec, dict) and "AWS" in spec:
                found.append(spec)
    return found


def _backfill_trust_principals() -> None:
    conn = op.get_bind()
    roles = sa.table(
        "roles",
        sa.column("role_id"),
        sa.column("account_id"),
        sa.column("name_lower"),
        sa.column("path"),
        sa.column("assume_role_policy_document"),
    )
    users = sa.table(
        "users",
        sa.column("user_id"),
        sa.column("account_id"),
        sa.column("name_lower"),
        sa.column("path"),
    )
    rtp = sa.table(
        "role_trust_principals",
        sa.column("role_id"),
        sa.column("principal_ids"),
        sa.column("document_by_id"),
    )
    entities = {"user": (users, users.c.user_id), "role": (roles, roles.c.role_id)}
    for role in conn.execute(
        sa.select(roles.c.role_id, roles.c.account_id, roles.c.assume_role_policy_document)
    ).all():
        try:
            document = json.loads(role.assume_role_policy_document)
        except ValueError:
            continue
        ids: dict[str, str] = {}
        specs = _aws_principals(document)
        for spec in specs:
            values = spec["AWS"] if isinstance(spec["AWS"], list) else [spec["AWS"]]
            for value in values:
                match = _ENTITY_ARN.fullmatch(value) if isinstance(value, str) else None
                if match is None or match.group(1) != role.account_id:
                    continue
                path_body, _, name = match.group(3).rpartition("/")
                table, key = entities[match.group(2)]
                found = conn.execute(
                    sa.select(key).where(
                        table.c.account_id == role.account_id,
                        table.c.name_lower == name.lower(),
                        table.c.path == (f"/{path_body}/" if path_body else "/"),
                    )
                ).scalar()
                if found is not None:
                    ids[value] = found
        if not ids:
            continue
        for spec in specs:
            value = spec["AWS"]
            spec["AWS"] = (
                [ids.get(v, v) if isinstance(v, str) else v for v in value]
                if isinstance(value, list)
                else ids.get(value, value)
            )
        conn.execute(
            rtp.insert().values(
                role_id=role.role_id,
                principal_ids=json.dumps(ids),
                document_by_id=json.dumps(document),
            )
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
