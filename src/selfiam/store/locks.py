"""Row locks for read-then-write checks that must hold under concurrency.

AWS limits (two access keys per user, five versions per policy, …) are
checked by counting rows and then inserting. Done naively, two concurrent
requests both count 1 and both insert. DESIGN rule 6 asks the database to
enforce it: lock the parent row first, in the same transaction, and every
competing transaction waits at the lock until the first one commits, then
counts again and sees its row.

* PostgreSQL: ``SELECT … FOR UPDATE`` on the parent row (READ COMMITTED: the
  count that follows the lock sees every row committed before it).
* A row that must merely stay (the role and the user a new role session hangs on) is
  kept with ``FOR KEY SHARE`` (:func:`keep_row`): the lock a foreign key's check takes,
  which blocks its deletion but not other transactions keeping it too, so concurrent
  AssumeRoles of one role by one user do not queue on each other.
* SQLite: FOR UPDATE does not exist and is not needed — a write transaction
  (``BEGIN IMMEDIATE``, see :mod:`selfiam.store.engine`) already holds the
  database's single write lock from its first statement. A read transaction
  would not, so locking inside one is refused.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Table, bindparam, select

from selfiam.store.engine import is_read_only
from selfiam.store.prepared import PreparedPerColumn
from selfiam.store.tables import accounts, managed_policies, users

#: One prepared ``SELECT key … FOR UPDATE`` per locked column (a lock runs in most writes:
#: building and executing it through SQLAlchemy each time cost more than the query).
_LOCKS = PreparedPerColumn(
    lambda key: select(key).where(key == bindparam("locked_key")).with_for_update()
)


def lock_row(conn: Connection, table: Table, key: Column[Any], value: object) -> bool:
    """Lock the row of ``table`` where ``key == value`` until the transaction
    ends. Return False if there is no such row (nothing is locked then)."""
    return _locked(conn, _LOCKS, key, value)


#: One prepared ``SELECT key … FOR KEY SHARE`` per kept column.
_KEEPS = PreparedPerColumn(
    lambda key: select(key)
    .where(key == bindparam("locked_key"))
    .with_for_update(read=True, key_share=True)
)


def keep_row(conn: Connection, table: Table, key: Column[Any], value: object) -> bool:
    """Keep the row of ``table`` where ``key == value`` from being deleted (or its key
    changed) until the transaction ends, sharing it with other keepers. Return False if
    there is no such row."""
    return _locked(conn, _KEEPS, key, value)


def _locked(conn: Connection, locks: PreparedPerColumn, key: Column[Any], value: object) -> bool:
    """Run ``locks``' statement for ``key == value``: whether a row was found (and locked)."""
    if is_read_only(conn):
        raise RuntimeError("row locks need a write transaction, not read_transaction()")
    return locks(key).first(conn, {"locked_key": value}) is not None


def lock_user_row(conn: Connection, user_id: str) -> bool:
    """Serialize changes to one user's credentials (key/cert/SSH-key limits)."""
    return lock_row(conn, users, users.c.user_id, user_id)


def lock_policy_row(conn: Connection, policy_id: str) -> bool:
    """Serialize changes to one managed policy's versions (the five-version limit)."""
    return lock_row(conn, managed_policies, managed_policies.c.policy_id, policy_id)


def lock_account_row(conn: Connection, account_id: str) -> bool:
    """Serialize account-wide quota checks (number of users, policies, …)."""
    return lock_row(conn, accounts, accounts.c.account_id, account_id)
