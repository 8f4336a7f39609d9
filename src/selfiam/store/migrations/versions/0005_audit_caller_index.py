"""Drop the audit trail's (caller_arn, at) index: no query can use it.

The trail is read by the end of the caller's ARN (``selfiam audit --user``, the portal's
audit page: ``caller_arn LIKE '%/alice'``, any path), which an index on the ARN cannot
serve, while every request pays to maintain it: its insert was about a third of the cost
of writing an audit record.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_records_caller_arn_at", table_name="audit_records")


def downgrade() -> None:
    op.create_index(
        "ix_audit_records_caller_arn_at", "audit_records", ["caller_arn", "at"], unique=False
    )
