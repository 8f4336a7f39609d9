"""PreparedWrite stores what Connection.execute stores and fails as it fails, on both
backends: the same SQL and converted values reach the driver, the same row is stored,
and a unique violation is SQLAlchemy's IntegrityError (what the operations catch to
answer EntityAlreadyExists)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction
from selfiam.store.prepared import PreparedWrite, arguments

ACCOUNT = "111122223333"
# Not UTC and with microseconds: UtcDateTime's bind processor has to convert it.
CREATED = datetime(2026, 11, 27, 13, 30, 45, 123456, tzinfo=timezone(timedelta(hours=1)))
USER = {
    "user_id": "AIDAALICE000000000000",
    "account_id": ACCOUNT,
    "name": "Alice",
    "name_lower": "alice",
    "created_at": CREATED,
}
PROFILE = {
    "user_id": USER["user_id"],
    "password_hash": "$argon2id$...",
    "created_at": CREATED,
    "password_changed_at": CREATED,
}
INSERT_USER = PreparedWrite(t.users.insert())
INSERT_PROFILE = PreparedWrite(t.login_profiles.insert())
MOVE = PreparedWrite(
    t.users.update()
    .where(t.users.c.user_id == bindparam("id"))
    .values(name=bindparam("new_name"), path="/moved/")
)
DELETE_USER = PreparedWrite(t.users.delete().where(t.users.c.user_id == bindparam("id")))


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    with transaction(migrated_engine) as conn:
        conn.execute(t.accounts.insert().values(account_id=ACCOUNT, created_at=CREATED))
    return migrated_engine


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    """The user and login profile rows as the database holds them (no result processing)."""
    with read_transaction(engine) as conn:
        return [
            tuple(row)
            for table in ("users", "login_profiles")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        ]


def _clear(engine: Engine) -> None:
    with transaction(engine) as conn:
        conn.execute(t.users.delete())  # the profile goes with it (ON DELETE CASCADE)


def test_an_insert_stores_what_core_stores(engine: Engine) -> None:
    # path and password_reset_required are left out: their Python defaults are stored
    with transaction(engine) as conn:
        conn.execute(t.users.insert(), USER)
        conn.execute(t.login_profiles.insert(), PROFILE)
    by_core = _stored(engine)
    _clear(engine)
    with transaction(engine) as conn:
        INSERT_USER.execute(conn, USER)
        INSERT_PROFILE.execute(conn, PROFILE)
    assert _stored(engine) == by_core and len(by_core) == 2


def test_the_driver_gets_cores_sql_and_values(engine: Engine) -> None:
    sent: list[tuple[str, Any]] = []

    def log(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", log)
    try:
        with transaction(engine) as conn:
            conn.execute(t.login_profiles.insert(), PROFILE)  # fails (no user): sent anyway
    except IntegrityError:
        pass
    finally:
        event.remove(engine, "before_cursor_execute", log)
    ((sql, values),) = sent
    compiled = INSERT_PROFILE.compiled(engine.dialect, tuple(PROFILE))
    assert compiled.sql == sql
    ours = arguments(compiled, PROFILE)
    assert (list(ours) if isinstance(ours, list) else ours) == (
        list(values) if isinstance(values, (list, tuple)) else values
    )


def test_update_and_delete_count_their_rows(engine: Engine) -> None:
    with transaction(engine) as conn:
        INSERT_USER.execute(conn, USER)
        assert MOVE.execute(conn, {"id": USER["user_id"], "new_name": "carol"}).rowcount == 1
        assert MOVE.execute(conn, {"id": "AIDANOBODY", "new_name": "x"}).rowcount == 0
    with read_transaction(engine) as conn:
        assert conn.execute(select(t.users.c.name, t.users.c.path)).one() == ("carol", "/moved/")
    with transaction(engine) as conn:
        assert DELETE_USER.execute(conn, {"id": USER["user_id"]}).rowcount == 1
    assert _stored(engine) == []


def test_sqlite_gives_the_inserted_row_id(engine: Engine) -> None:
    insert = PreparedWrite(t.changes.insert())
    with transaction(engine) as conn:
        first = insert.execute(conn, {"change_key": "u:a"})
        second = insert.execute(conn, {"change_key": "u:b"})
        ids = conn.execute(select(t.changes.c.id).order_by(t.changes.c.id)).scalars().all()
    if engine.dialect.name == "sqlite":
        assert [first.lastrowid, second.lastrowid] == ids


def test_a_unique_violation_is_sqlalchemys_integrity_error(engine: Engine) -> None:
    with transaction(engine) as conn:
        INSERT_USER.execute(conn, USER)
    other = {**USER, "user_id": "AIDAOTHER000000000000", "name": "ALICE"}
    with pytest.raises(IntegrityError), transaction(engine) as conn:
        INSERT_USER.execute(conn, other)  # the same name in another case
    assert len(_stored(engine)) == 1


def test_a_value_the_column_refuses_is_refused(engine: Engine) -> None:
    naive = {**USER, "created_at": datetime(2026, 1, 1)}  # noqa: DTZ001 (the point)
    with pytest.raises((ValueError, StatementError)), transaction(engine) as conn:
        INSERT_USER.execute(conn, naive)
    assert _stored(engine) == []
