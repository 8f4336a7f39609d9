"""Count failed secret checks in one table: secret_throttles replaces sign_in_failures.

One row per (scope, subject) — a portal user name, a source address, an MFA device —
holds its failures, lockouts and lock end, updated under a row lock, so the limits
hold across processes and under concurrency (``selfiam.service.throttle``). The old
per-failure rows of sign_in_failures are dropped: they only held failures of the last
15 minutes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secret_throttles",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scope IN ('user', 'address', 'mfa')", name=op.f("ck_secret_throttles_scope")
        ),
        sa.PrimaryKeyConstraint("scope", "subject", name=op.f("pk_secret_throttles")),
    )
    op.create_index(
        "ix_secret_throttles_expires_at", "secret_throttles", ["expires_at"], unique=False
    )
    op.drop_index("ix_sign_in_failures_scope_subject_failed_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")


def downgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("scope IN ('user', 'address')", name=op.f("ck_sign_in_failures_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(
        "ix_sign_in_failures_scope_subject_failed_at",
        "sign_in_failures",
        ["scope", "subject", "failed_at"],
        unique=False,
    )
    op.drop_index("ix_secret_throttles_expires_at", table_name="secret_throttles")
    op.drop_table("secret_throttles")
