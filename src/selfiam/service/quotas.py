"""Quotas on how many rows an account or a user holds (users, groups, policies, keys...).

An account-wide quota reads the kind's counter (``store/counters.py``: kept by triggers in
the same transaction as every insert and delete), so a CreateUser costs the same in an
account of ten users and of five thousand. A per-user quota (two access keys) counts the
user's few rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import Connection

from selfiam.domain.errors import LimitExceeded
from selfiam.service.context import OperationContext
from selfiam.store import counters
from selfiam.store.engine import is_read_only
from selfiam.store.locks import lock_account_row
from selfiam.store.prepared import PreparedPerColumn, PreparedSelect

_ac = counters.account_counters
#: The counter of a kind, its row locked (``FOR UPDATE`` on PostgreSQL; SQLite's write
#: transaction holds the database's lock already).
_LOCKED_COUNT = PreparedSelect(
    select(_ac.c.n)
    .where(_ac.c.account_id == bindparam("account_id"), _ac.c.kind == bindparam("kind"))
    .with_for_update()
)
#: One prepared ``count(*)`` per owner column (the per-user quotas: keys, certificates...).
_COUNTS = PreparedPerColumn(
    lambda owner: (
        select(func.count()).select_from(owner.table).where(owner == bindparam("owner_id"))
    )
)
_ENSURE_ROW = text(
    "INSERT INTO account_counters (account_id, kind, n) VALUES (:account_id, :kind, 0)"
    " ON CONFLICT (account_id, kind) DO NOTHING"
)


def check_quota(
    conn: Connection, owner_column: Any, owner_id: str, quota_name: str, quota: int
) -> None:
    """LimitExceeded if ``owner_column``'s table already has ``quota`` rows of ``owner_id``.

    The caller locks the owner's row first, so two concurrent creators cannot both pass
    the count (DESIGN rule 6).
    """
    if (_COUNTS(owner_column).scalar(conn, {"owner_id": owner_id}) or 0) >= quota:
        raise LimitExceeded(f"Cannot exceed quota for {quota_name}: {quota}")


def locked_count(conn: Connection, account_id: str, kind: str) -> int:
    """The account's counter of ``kind``, its row locked until the transaction ends.

    The row is created (at 0) when missing, so that there is always a row to lock: a
    concurrent creator waits for the first one's commit, then reads the count it left.
    """
    if is_read_only(conn):
        raise RuntimeError("a quota check needs a write transaction")
    params = {"account_id": account_id, "kind": kind}
    value = _LOCKED_COUNT.scalar(conn, params)
    if value is None:
        conn.execute(_ENSURE_ROW, params)
        value = _LOCKED_COUNT.scalar(conn, params)
    return int(value or 0)


def check_account_quota(
    ctx: OperationContext, account_column: Any, quota_name: str, quota: int
) -> None:
    """LimitExceeded if the account already holds ``quota`` rows of ``account_column``'s
    table; the kind's counter row stays locked until the transaction ends, so concurrent
    creators are counted one after the other (DESIGN rule 6)."""
    kind = counters.KIND_OF_TABLE.get(account_column.table.name)
    if kind is None:  # a table no counter keeps: lock the account, count its rows
        lock_account_row(ctx.conn, ctx.account_id)
        check_quota(ctx.conn, account_column, ctx.account_id, quota_name, quota)
        return
    if locked_count(ctx.conn, ctx.account_id, kind) >= quota:
        raise LimitExceeded(f"Cannot exceed quota for {quota_name}: {quota}")
