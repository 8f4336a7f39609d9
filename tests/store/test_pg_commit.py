"""A PostgreSQL transaction's notifications travel with its COMMIT (store/pg_commit.py):
delivered once it commits, in one query with the COMMIT, never after a rollback, the
payload intact whatever it holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, text

from selfiam.store.engine import create_engine_for, transaction
from selfiam.store.pg_commit import notify_at_commit

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


def test_the_payload_is_intact_without_standard_conforming_strings(
    engine: Engine, listener: Any
) -> None:
    tricky = "it's a \\ backslash"

    @event.listens_for(engine, "connect")
    def _old_style(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("SET standard_conforming_strings = off")
        dbapi_connection.commit()

    engine.dispose()
    with transaction(engine) as conn:
        notify_at_commit(conn, CHANNEL, tricky)
    assert _received(listener) == [tricky]
