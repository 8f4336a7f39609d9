"""Quotas on how many rows an account or a user holds (users, groups, policies, keys...)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from selfiam.domain.errors import LimitExceeded
from selfiam.service.context import OperationContext
from selfiam.store.locks import lock_account_row


def check_quota(
    conn: Connection, owner_column: Any, owner_id: str, quota_name: str, quota: int
) -> None:
    """LimitExceeded if ``owner_column``'s table already has ``quota`` rows of ``owner_id``.

    The caller locks the owner's row first, so two concurrent creators cannot both pass
    the count (DESIGN rule 6).
    """
    count = conn.execute(
        select(func.count()).select_from(owner_column.table).where(owner_column == owner_id)
    ).scalar_one()
    if count >= quota:
        raise LimitExceeded(f"Cannot exceed quota for {quota_name}: {quota}")


def check_account_quota(
    ctx: OperationContext, account_column: Any, quota_name: str, quota: int
) -> None:
    """Lock the account's row (held until the transaction ends), then check_quota."""
    lock_account_row(ctx.conn, ctx.account_id)
    check_quota(ctx.conn, account_column, ctx.account_id, quota_name, quota)
