"""A PostgreSQL transaction's notifications and queued statements travel with its COMMIT
(store/pg_commit.py): delivered or stored once it commits, in one query with the COMMIT,
never after a rollback, the payload and the values intact whatever they hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    event,
    select,
    text,
)
from sqlalchemy.exc import DataError, IntegrityError

from selfiam.store.columns import UtcDateTime
from selfiam.store.engine import create_engine_for, transaction
from selfiam.store.pg_commit import notify_at_commit
from selfiam.store.prepared import PreparedWrite
from support.statements import StatementLog, is_commit

CHANNEL = "pg_commit_test"


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine_for(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def listener(engine: Engine) -> Iterator[Any]:
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    conn = psycopg.connect(*args, **{**kwargs, "autocommit": True})
    conn.execute(f"LISTEN {CHANNEL}")
    yield conn
    conn.close()


def _received(listener: Any) -> list[str]:
    return [n.payload for n in listener.notifies(timeout=0.5)]


def test_a_committed_notification_arrives_with_the_commit(
    engine: Engine, listener: Any
) -> None:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    tricky = "c|n|1|p:arn:aws:iam::1:policy/it's\\a/ é"
    with transaction(engine) as conn:
        conn.execute(text("SELECT 1"))
        notify_at_commit(conn, CHANNEL, tricky)
        assert _received(listener) == []  # nothing sent yet
    assert _received(listener) == [tricky]
    assert sent == ["SELECT 1"]  # no statement of its own through SQLAlchemy


def test_a_rolled_back_notification_is_never_sent(engine: Engine, listener: Any) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as conn:
        notify_at_commit(conn, CHANNEL, "dropped")
        raise RuntimeError("the write failed")
    with transaction(engine) as conn:  # the same pooled connection, a new transaction
        conn.execute(text("SELECT 1"))
    with transaction(engine) as conn:
        notify_at_commit(conn, CHANNEL, "kept")
    assert _received(listener) == ["kept"]


def test_inside_a_savepoint_it_follows_the_savepoint(engine: Engine, listener: Any) -> None:
    with transaction(engine) as conn:
        savepoint = conn.begin_nested()
        notify_at_commit(conn, CHANNEL, "undone")
        savepoint.rollback()
        notify_at_commit(conn, CHANNEL, "done")
    assert _received(listener) == ["done"]


def _without_standard_conforming_strings(engine: Engine) -> None:
    """The engine's connections, from now on, in the old string syntax (a backslash
    escapes in a literal)."""

    @event.listens_for(engine, "connect")
    def _old_style(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("SET standard_conforming_strings = off")
        dbapi_connection.commit()

    engine.dispose()


def test_the_payload_is_intact_without_standard_conforming_strings(
    engine: Engine, listener: Any
) -> None:
    tricky = "it's a \\ backslash"
    _without_standard_conforming_strings(engine)
    with transaction(engine) as conn:
        notify_at_commit(conn, CHANNEL, tricky)
    assert _received(listener) == [tricky]


# -- statements queued for the COMMIT (PreparedWrite.execute_at_commit) --------------------

_metadata = MetaData()
_rows = Table(
    "pg_commit_rows", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("word", Text, nullable=True),
    Column("at", UtcDateTime(), nullable=True),
    Column("flag", Boolean, nullable=True),
    Column("blob", LargeBinary, nullable=True),
)
_INSERT = PreparedWrite(_rows.insert())
#: What a hostile client may put in an audited value (a user agent, a resource name).
HOSTILE = [
    "it's", "\\'; DROP TABLE pg_commit_rows; --", "%s %(id)s %% {0}", "é ✓ \u202e",
    "line\nbreak\ttab", "$$ $a$ E'\\x41'", "",
]


@pytest.fixture
def rows(engine: Engine) -> Iterator[Table]:
    _metadata.drop_all(engine)
    _metadata.create_all(engine)
    yield _rows
    _metadata.drop_all(engine)


def _stored(engine: Engine) -> list[tuple[Any, ...]]:
    """Each row's id, word, at and flag."""
    with transaction(engine) as conn:
        return [tuple(r)[:4] for r in conn.execute(select(_rows).order_by(_rows.c.id))]


def test_a_queued_insert_is_sent_with_the_commit_and_stores_exactly_its_values(
    engine: Engine, rows: Table
) -> None:
    log = StatementLog(engine)
    engine.dispose()  # from here on every connection is a counted one
    at = datetime(2026, 12, 2, 7, 30, 1, 123456, tzinfo=UTC)
    with log.recording() as sent, transaction(engine) as conn:
        for i, word in enumerate(HOSTILE):
            _INSERT.execute_at_commit(conn, {"id": i, "word": word, "at": at, "flag": i % 2 == 0})
        _INSERT.execute_at_commit(conn, {"id": 99, "word": None, "at": None, "flag": None})
        assert sent == []  # nothing sent before the commit (counted at the driver)
    assert len(sent) == 1 and is_commit(sent[0])  # all of it in the COMMIT's query
    assert _stored(engine) == [
        *((i, word, at, i % 2 == 0) for i, word in enumerate(HOSTILE)), (99, None, None, None)
    ]


def test_queued_bytes_are_stored_exactly(engine: Engine, rows: Table) -> None:
    """Bytes (a sealed secret) are written in bytea's hex form, with the COMMIT."""
    log = StatementLog(engine)
    engine.dispose()  # from here on every connection is a counted one
    blobs = [bytes(range(256)), b"\\x41'; --", b""]
    with log.recording() as sent, transaction(engine) as conn:
        for i, blob in enumerate(blobs):
            _INSERT.execute_at_commit(conn, {"id": i, "blob": blob})
        assert sent == []  # queued, not run at once (counted at the driver)
    with transaction(engine) as conn:
        stored = conn.execute(select(_rows.c.blob).order_by(_rows.c.id)).scalars().all()
    assert [bytes(b) for b in stored] == blobs


def test_a_queued_insert_is_dropped_by_a_rollback(engine: Engine, rows: Table) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as conn:
        _INSERT.execute_at_commit(conn, {"id": 1, "word": "dropped"})
        raise RuntimeError("the write failed")
    with transaction(engine) as conn:
        _INSERT.execute_at_commit(conn, {"id": 2, "word": "kept"})
    assert _stored(engine) == [(2, "kept", None, None)]


def test_a_queued_insert_that_fails_fails_the_commit_and_the_whole_transaction(
    engine: Engine, rows: Table
) -> None:
    with transaction(engine) as conn:
        _INSERT.execute(conn, {"id": 1, "word": "first"})
    with pytest.raises(IntegrityError), transaction(engine) as conn:
        _INSERT.execute(conn, {"id": 2, "word": "in the same transaction"})
        _INSERT.execute_at_commit(conn, {"id": 1, "word": "a duplicate key"})
    assert _stored(engine) == [(1, "first", None, None)]
    with transaction(engine) as conn:  # the pooled connection is usable again
        _INSERT.execute_at_commit(conn, {"id": 3, "word": "after"})
    assert [r[0] for r in _stored(engine)] == [1, 3]


def test_a_value_no_literal_can_hold_runs_at_once(engine: Engine, rows: Table) -> None:
    """A NUL (which PostgreSQL's text refuses) fails where it is given, as it would as a
    parameter, not later in the COMMIT."""
    with pytest.raises(DataError), transaction(engine) as conn:
        _INSERT.execute_at_commit(conn, {"id": 1, "word": "nul\x00byte"})
    assert _stored(engine) == []


def test_queued_values_are_intact_without_standard_conforming_strings(
    engine: Engine, rows: Table
) -> None:
    _without_standard_conforming_strings(engine)
    with transaction(engine) as conn:
        for i, word in enumerate(HOSTILE):
            _INSERT.execute_at_commit(conn, {"id": i, "word": word})
    assert [r[1] for r in _stored(engine)] == HOSTILE
