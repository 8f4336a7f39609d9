"""Quotas on how many rows an account or a user holds (users, groups, policies, keys...).

An account-wide quota reads the kind's counter (``store/counters.py``: kept by triggers in
the same transaction as every insert and delete), so a CreateUser costs the same in an
account of ten users and of five thousand. A per-user quota (two access keys) counts the
user's few rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Insert, Table, bindparam, func, select, text
from sqlalchemy.engine import Connection

from selfiam.domain.errors import LimitExceeded
from selfiam.service.context import OperationContext
from selfiam.store import counters
from selfiam.store.engine import is_read_only
from selfiam.store.locks import lock_account_row
from selfiam.store.prepared import PreparedPerColumn, PreparedPerTable, PreparedSelect

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


def insert_within_account_quota(
    ctx: OperationContext, table: Table, row: Mapping[str, Any], quota_name: str, quota: int
) -> None:
    """Insert ``row`` into ``table`` (a counted kind: ``counters.KIND_OF_TABLE``) unless
    the account already holds ``quota`` of them: ``check_account_quota`` then the insert,
    in one statement on PostgreSQL.

    There the count's locked read is a sub-select of the INSERT (``INSERT ... SELECT ...
    WHERE (SELECT n ... FOR UPDATE) < quota``): one round trip less per create, and one
    less while the counter row, which every creator of the kind in the account queues
    on, is locked. A row lock taken by a sub-select returns the row as the transaction
    it waited for left it, as ``SELECT ... FOR UPDATE`` does. Nothing inserted means the
    quota is reached, or that the counter row does not exist yet: the two-step path
    decides (it creates the row). A duplicate raises the insert's ``IntegrityError``
    either way.
    """
    conn = ctx.conn
    kind = counters.KIND_OF_TABLE[table.name]
    if conn.dialect.name == "postgresql":
        params = {**row, "quota_owner": ctx.account_id, "quota_kind": kind, "quota": quota}
        if _UNDER_ACCOUNT_QUOTA(table, tuple(row)).execute(conn, params).rowcount == 1:
            return
    check_account_quota(ctx, table.c.account_id, quota_name, quota)
    _INSERTS(table).execute(conn, row)


def insert_within_quota(
    conn: Connection,
    table: Table,
    row: Mapping[str, Any],
    owner_column: Any,
    quota_name: str,
    quota: int,
) -> None:
    """Insert ``row`` unless ``owner_column``'s owner (its value in ``row``) already has
    ``quota`` rows in ``table``: ``check_quota`` then the insert, in one statement on
    PostgreSQL. The caller holds the owner's row lock, taken by an earlier statement,
    so the count (of rows committed before this statement began) includes every
    concurrent creator's that went first (DESIGN rule 6)."""
    owner_id = row[owner_column.name]
    if conn.dialect.name == "postgresql":
        params = {**row, "quota_owner": owner_id, "quota": quota}
        guarded = _UNDER_QUOTA(table, tuple(row), owner_column.name)
        if guarded.execute(conn, params).rowcount != 1:
            raise LimitExceeded(f"Cannot exceed quota for {quota_name}: {quota}")
        return
    check_quota(conn, owner_column, owner_id, quota_name, quota)
    _INSERTS(table).execute(conn, row)


def _insert_if(table: Table, keys: tuple[str, ...], counted: Any) -> Insert:
    """``INSERT INTO table (keys) SELECT :keys WHERE counted < :quota``."""
    values = select(*(bindparam(k, type_=table.c[k].type) for k in keys)).where(
        counted < bindparam("quota")
    )
    return table.insert().from_select(list(keys), values)


def _under_account_quota(table: Table, keys: tuple[str, ...]) -> Insert:
    counted = (
        select(_ac.c.n)
        .where(_ac.c.account_id == bindparam("quota_owner"), _ac.c.kind == bindparam("quota_kind"))
        .with_for_update()
        .scalar_subquery()
    )
    return _insert_if(table, keys, counted)


def _under_quota(table: Table, keys: tuple[str, ...], owner: str) -> Insert:
    counted = (
        select(func.count())
        .select_from(table)
        .where(table.c[owner] == bindparam("quota_owner"))
        .scalar_subquery()
    )
    return _insert_if(table, keys, counted)


_UNDER_ACCOUNT_QUOTA = PreparedPerTable(_under_account_quota)
_UNDER_QUOTA = PreparedPerTable(_under_quota)
_INSERTS = PreparedPerTable(lambda table: table.insert())


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
