"""DESIGN rule 6: the two-access-keys limit holds when requests race."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, Engine, func, select

from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction
from selfiam.store.locks import keep_row, lock_account_row, lock_policy_row, lock_user_row
from support.rows import add_access_key, add_account, add_user

LIMIT = 2
THREADS = 8


def _race(engine: Engine, user_id: str, lock: bool) -> tuple[int, list[BaseException]]:
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    created: list[str] = []

    def attempt() -> None:
        try:
            barrier.wait()
            with transaction(engine) as conn:
                if lock:
                    assert lock_user_row(conn, user_id)
                count = conn.execute(
                    select(func.count()).select_from(t.access_keys)
                    .where(t.access_keys.c.user_id == user_id)
                ).scalar_one()
                time.sleep(0.05)  # widen the window a racing writer would need
                if count < LIMIT:
                    created.append(add_access_key(conn, user_id))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with engine.connect() as conn:
        rows = conn.execute(
            select(func.count()).select_from(t.access_keys)
            .where(t.access_keys.c.user_id == user_id)
        ).scalar_one()
    assert rows == len(created)
    return rows, errors


def _setup_user(engine: Engine) -> str:
    with transaction(engine) as conn:
        return add_user(conn, add_account(conn), "alice")


def test_eight_racing_writers_create_exactly_two_keys(migrated_engine: Engine) -> None:
    user_id = _setup_user(migrated_engine)
    rows, errors = _race(migrated_engine, user_id, lock=True)
    assert errors == []
    assert rows == LIMIT


def test_the_race_is_real_without_the_lock(postgres_url: str) -> None:
    """Control: on PostgreSQL, the same code without the row lock overshoots,
    so the test above would notice a lock that does nothing."""
    from selfiam.store.engine import create_engine_for
    from selfiam.store.migrate import upgrade_to_head

    engine = create_engine_for(postgres_url)
    try:
        upgrade_to_head(engine)
        user_id = _setup_user(engine)
        rows, errors = _race(engine, user_id, lock=False)
        assert errors == []
        assert rows > LIMIT
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("lock", "table"),
    [(lock_user_row, "users"), (lock_policy_row, "managed_policies"),
     (lock_account_row, "accounts")],
)
def test_lock_reports_missing_rows(
    migrated_engine: Engine, lock: Callable[[Connection, str], bool], table: str
) -> None:
    with transaction(migrated_engine) as conn:
        assert lock(conn, "nope") is False


def test_lock_existing_account_and_user(migrated_engine: Engine) -> None:
    user_id = _setup_user(migrated_engine)
    with transaction(migrated_engine) as conn:
        assert lock_account_row(conn, "123456789012")
        assert lock_user_row(conn, user_id)


def test_locks_refused_in_read_transactions(migrated_engine: Engine) -> None:
    with read_transaction(migrated_engine) as conn, pytest.raises(RuntimeError):
        lock_user_row(conn, "AIDAX")


def test_a_kept_row_is_shared_by_keepers_and_cannot_be_deleted(postgres_url: str) -> None:
    """``keep_row`` (FOR KEY SHARE): a second transaction keeps the same row without
    waiting (concurrent AssumeRoles of one role by one user), while a DELETE of it must
    wait for the keepers (here it gives up at its lock timeout)."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from selfiam.store.engine import create_engine_for
    from selfiam.store.migrate import upgrade_to_head

    engine = create_engine_for(postgres_url)
    try:
        upgrade_to_head(engine)
        user_id = _setup_user(engine)
        with transaction(engine) as first:
            assert keep_row(first, t.users, t.users.c.user_id, user_id)
            with transaction(engine) as second:
                second.execute(text("SET LOCAL lock_timeout = '2s'"))
                assert keep_row(second, t.users, t.users.c.user_id, user_id)
            with pytest.raises(OperationalError, match="lock timeout"), transaction(
                engine
            ) as deleter:
                deleter.execute(text("SET LOCAL lock_timeout = '200ms'"))
                deleter.execute(t.users.delete().where(t.users.c.user_id == user_id))
        with transaction(engine) as conn:
            assert not keep_row(conn, t.users, t.users.c.user_id, "AIDANOBODY")
            assert keep_row(conn, t.users, t.users.c.user_id, user_id)
    finally:
        engine.dispose()
