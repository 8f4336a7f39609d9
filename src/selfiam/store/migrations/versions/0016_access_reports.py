"""Service last accessed and the account-level settings of issue 15.

``action_last_used``: each principal's last request per action (fed by the audit writer);
``access_report_jobs``: GenerateServiceLastAccessedDetails's reports, shared by every node;
``account_properties`` (PutAccountProperties) and ``account_preferences`` (the STS global
endpoint token version, outbound web identity federation); ``outbound_signing_keys`` (the
sealed keys outbound web identity tokens are signed with).

The last-used rows start empty: the audit trail before this revision names callers by ARN
only (not by unique id), so a report covers the requests made after the upgrade.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_last_used",
        sa.Column("principal_id", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("principal_arn", sa.String(length=2048), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("principal_id", "action", name=op.f("pk_action_last_used")),
    )
    op.create_table(
        "access_report_jobs",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("granularity", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "granularity IN ('SERVICE_LEVEL', 'ACTION_LEVEL')",
            name=op.f("ck_access_report_jobs_granularity"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_access_report_jobs_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_access_report_jobs")),
    )
    op.create_index(
        "ix_access_report_jobs_created_at", "access_report_jobs", ["created_at"], unique=False
    )
    op.create_table(
        "account_properties",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_account_properties_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "key", name=op.f("pk_account_properties")),
    )
    op.create_table(
        "account_preferences",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("sts_token_version", sa.String(length=8), nullable=False),
        sa.Column("outbound_federation", sa.Boolean(), nullable=False),
        sa.Column("outbound_issuer_id", sa.String(length=36), nullable=True),
        sa.CheckConstraint(
            "sts_token_version IN ('v1Token', 'v2Token')",
            name=op.f("ck_account_preferences_sts_token_version"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_account_preferences_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_preferences")),
    )
    op.create_table(
        "outbound_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("private_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "algorithm IN ('ES384', 'RS256')", name=op.f("ck_outbound_signing_keys_algorithm")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_outbound_signing_keys_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_outbound_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("outbound_signing_keys")
    op.drop_table("account_preferences")
    op.drop_table("account_properties")
    op.drop_index("ix_access_report_jobs_created_at", table_name="access_report_jobs")
    op.drop_table("access_report_jobs")
    op.drop_table("action_last_used")
