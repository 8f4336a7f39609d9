"""The change feed's payloads (PostgreSQL NOTIFY) and its SQLite rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from selfiam.store import change_feed as feed
from selfiam.store.change_feed import CHANNEL, FeedConnection
from selfiam.store.engine import create_engine_for, read_transaction, transaction


def test_payloads_round_trip() -> None:
    keys = [feed.key(feed.USER, "AIDAEXAMPLE"), feed.key(feed.POLICY, "arn:aws:iam::1:policy/a/b")]
    change = feed.decode(feed.encode_change("node1", 7, keys))
    assert change == feed.Message("c", "node1", 7, tuple(keys))
    ack = feed.decode(feed.encode_ack("node2", [("node1", 7), ("node3", 2)]))
    assert ack is not None and ack.acks == (("node1", 7), ("node3", 2))
    beat = feed.decode(feed.encode_heartbeat("node1", "12.5"))
    assert beat is not None and (beat.kind, beat.token) == ("h", "12.5")
    assert feed.decode("x|y") is None and feed.decode("c|n|not-a-number|k") is None


def test_rows_are_read_in_order_and_a_gap_means_start_over(migrated_engine: Engine) -> None:
    if migrated_engine.dialect.name != "sqlite":
        return  # PostgreSQL's changes travel as notifications (tests/api/test_change_feed.py)
    with read_transaction(migrated_engine) as conn:
        start = feed.last_id(conn)
    with transaction(migrated_engine) as conn:
        feed.record(conn, {"u:a", "k:b"}, "n", 1)
    with transaction(migrated_engine) as conn:
        feed.record(conn, {"u:c", feed.EVERYTHING}, "n", 2)  # everything says it all
    with read_transaction(migrated_engine) as conn:
        assert feed.read_since(conn, start) == (start + 3, ["k:b", "u:a", "*"])
        assert feed.read_since(conn, start + 3) == (start + 3, [])
    with transaction(migrated_engine) as conn:
        conn.execute(feed.changes.delete().where(feed.changes.c.id == start + 1))
    with read_transaction(migrated_engine) as conn:
        assert feed.read_since(conn, start) is None  # a pruned row: forget everything


def test_the_listener_takes_a_read_s_notifications_in_one_wait(postgres_url: str) -> None:
    """Notifications committed together arrive together; the listener hands them over
    from one wait on its connection, with no second (empty) wait to drain them."""
    engine = create_engine_for(postgres_url)
    connection = FeedConnection(engine, "n")
    try:
        waits = []
        plain = connection._listen.notifies

        def counted(**kw: Any) -> Any:
            waits.append(kw)
            return plain(**kw)

        connection._listen.notifies = counted
        with transaction(engine) as conn:
            for i in range(3):
                conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": str(i)})
        assert list(connection.wait(30)) == ["0", "1", "2"]
        assert len(waits) == 1
    finally:
        connection.close()
        engine.dispose()
