"""Per-account quotas on how many users, groups or managed policies an account holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from selfiam.domain.errors import LimitExceeded
from selfiam.service.context import OperationContext
from selfiam.store.locks import lock_account_row


def check_account_quota(
    ctx: OperationContext, account_column: Any, quota_name: str, quota: int
) -> None:
    """LimitExceeded if the account already has ``quota`` rows (``account_column`` = account).

    The account's row is locked first, so two concurrent creators cannot both pass the
    count (DESIGN rule 6); the lock is held until the transaction ends.
    """
    lock_account_row(ctx.conn, ctx.account_id)
    count = ctx.conn.execute(
        select(func.count())
        .select_from(account_column.table)
        .where(account_column == ctx.account_id)
    ).scalar_one()
    if count >= quota:
        raise LimitExceeded(f"Cannot exceed quota for {quota_name}: {quota}")
