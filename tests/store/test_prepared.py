"""PreparedSelect gives the rows Connection.execute gives, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, select

from selfiam.store import tables as t
from selfiam.store.engine import HeldReadConnection, read_transaction, transaction
from selfiam.store.prepared import PreparedSelect

CREATED = datetime(2026, 11, 27, 12, 30, 45, 123456, tzinfo=UTC)

USERS_BY_NAME = select(t.users).where(
    t.users.c.account_id == bindparam("account_id"),
    t.users.c.name_lower == bindparam("name_lower"),
)


def _seed(engine: Engine) -> None:
    with transaction(engine) as conn:
        conn.execute(t.accounts.insert().values(account_id="111122223333", created_at=CREATED))
        for name in ("Alice", "bob"):
            conn.execute(
                t.users.insert().values(
                    user_id=f"AIDA{name.upper():0<17}",
                    account_id="111122223333",
                    name=name,
                    name_lower=name.lower(),
                    path="/team/",
                    created_at=CREATED,
                )
            )


def test_rows_equal_those_of_connection_execute(migrated_engine: Engine) -> None:
    _seed(migrated_engine)
    prepared = PreparedSelect(USERS_BY_NAME)
    params = {"account_id": "111122223333", "name_lower": "alice"}
    with read_transaction(migrated_engine) as conn:
        expected = conn.execute(USERS_BY_NAME, params).one()
        row = prepared.first(conn, params)
    assert tuple(row) == tuple(expected)
    assert row.name == "Alice" and row.path == "/team/"
    assert row._mapping["user_id"] == expected.user_id
    # UtcDateTime's result processing ran: aware UTC, as the column type promises.
    assert row.created_at == CREATED and row.created_at.tzinfo is UTC


def test_all_scalar_and_no_row(migrated_engine: Engine) -> None:
    _seed(migrated_engine)
    names = PreparedSelect(
        select(t.users.c.name)
        .where(t.users.c.created_at <= bindparam("before", type_=t.UtcDateTime()))
        .order_by(t.users.c.name_lower)
    )
    with read_transaction(migrated_engine) as conn:
        # a bind processor runs too: an aware datetime goes in as the column stores it
        assert [r.name for r in names.all(conn, {"before": CREATED})] == ["Alice", "bob"]
        assert names.all(conn, {"before": datetime(2000, 1, 1, tzinfo=UTC)}) == []
        by_name = PreparedSelect(USERS_BY_NAME)
        assert by_name.first(conn, {"account_id": "111122223333", "name_lower": "carol"}) is None
        assert by_name.scalar(conn, {"account_id": "111122223333", "name_lower": "bob"}) == (
            "AIDABOB" + "0" * 14
        )


def test_runs_inside_the_callers_transaction(migrated_engine: Engine) -> None:
    """An uncommitted insert is visible to a prepared read in the same transaction."""
    _seed(migrated_engine)
    count = PreparedSelect(select(t.users.c.name).where(t.users.c.name_lower == "carol"))
    with transaction(migrated_engine) as conn:
        conn.execute(
            t.users.insert().values(
                user_id="AIDACAROL0000000000000",
                account_id="111122223333",
                name="carol",
                name_lower="carol",
                path="/",
                created_at=CREATED,
            )
        )
        assert count.first(conn) is not None
        conn.rollback()
    with read_transaction(migrated_engine) as conn:
        assert count.first(conn) is None


def test_held_read_connection_is_reused_and_nests(migrated_engine: Engine) -> None:
    _seed(migrated_engine)
    held = HeldReadConnection(migrated_engine)
    # a nested use gets a pooled connection
    with held.transaction() as first, held.transaction() as nested:
        assert nested is not first
        assert nested.connection.dbapi_connection is not first.connection.dbapi_connection
    with held.transaction() as again:
        kept = again is first
    # kept between transactions, on SQLite and PostgreSQL (pinged there when stale)
    assert kept


def test_held_read_connection_sees_later_commits(migrated_engine: Engine) -> None:
    """Each transaction on the held connection is a fresh snapshot."""
    _seed(migrated_engine)
    held = HeldReadConnection(migrated_engine)
    bob = PreparedSelect(USERS_BY_NAME)
    params = {"account_id": "111122223333", "name_lower": "bob"}
    with held.transaction() as conn:
        assert bob.first(conn, params) is not None
    with transaction(migrated_engine) as conn:
        conn.execute(t.users.delete().where(t.users.c.name_lower == "bob"))
    with held.transaction() as conn:
        assert bob.first(conn, params) is None


def test_held_read_connection_survives_a_failed_request(migrated_engine: Engine) -> None:
    _seed(migrated_engine)
    held = HeldReadConnection(migrated_engine)
    try:
        with held.transaction() as conn:
            conn.execute(select(t.users.c.name)).all()
            raise LookupError("the operation failed")
    except LookupError:
        pass
    with held.transaction() as conn:
        assert not conn.in_nested_transaction()
        assert len(conn.execute(select(t.users.c.name)).all()) == 2
