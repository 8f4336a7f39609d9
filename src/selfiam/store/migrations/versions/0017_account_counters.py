"""Per-account counters for GetAccountSummary and the account quotas (issue 14), and
indexes on users' and roles' permissions boundaries, and the state of a credential
report built in the background.

``account_counters`` holds one row per (account, kind), kept by triggers in the same
transaction as the insert or delete they count (see :mod:`selfiam.store.counters`).
The counters are backfilled from the tables before the triggers are created; the
migration runs in one transaction holding the migration lock, so no write slips between.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from selfiam.store import counters

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_counters",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "kind"),
    )
    # PermissionsBoundaryUsageCount (ListPolicies, GetAccountAuthorizationDetails) probes
    # these instead of scanning the account's users and roles for every policy.
    op.create_index(
        "ix_users_permissions_boundary_arn", "users", ["account_id", "permissions_boundary_arn"]
    )
    op.create_index(
        "ix_roles_permissions_boundary_arn", "roles", ["account_id", "permissions_boundary_arn"]
    )
    # Credential reports are built in the background: their state and the run building them.
    with op.batch_alter_table("credential_reports") as batch:
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default="COMPLETE")
        )
        batch.add_column(sa.Column("token", sa.String(32), nullable=True))
        batch.create_check_constraint(op.f("ck_credential_reports_report_state"), "state IN ('STARTED', 'COMPLETE')")
    dialect = op.get_bind().dialect.name
    for statement in counters.backfill_statements():
        op.execute(statement)
    for statement in counters.create_statements(dialect):
        op.execute(sa.text(statement))


def downgrade() -> None:
    for statement in counters.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("account_counters")
    with op.batch_alter_table("credential_reports") as batch:
        batch.drop_constraint(op.f("ck_credential_reports_report_state"), type_="check")
        batch.drop_column("token")
        batch.drop_column("state")
    op.drop_index("ix_roles_permissions_boundary_arn", "roles")
    op.drop_index("ix_users_permissions_boundary_arn", "users")
