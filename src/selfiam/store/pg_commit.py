"""PostgreSQL: a transaction's notifications sent with its ``COMMIT``, in one round trip.

A write publishes what it changed with ``pg_notify`` (``store/change_feed.py``), which
PostgreSQL delivers at commit, never for a rolled-back transaction. Where in the
transaction the ``pg_notify`` runs makes no difference to anyone, so it need not be a
round trip of its own while the write holds its row locks: :func:`notify_at_commit`
queues it on the connection, and the engine's commit sends
``SELECT pg_notify(...); COMMIT`` as one simple-protocol query. A rollback drops what was
queued. psycopg's own ``commit()`` then finds the session idle and sends nothing.

An engine that :func:`install` was not called on (one not made by
``engine.create_engine_for``) runs the ``pg_notify`` at once, as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, event, text

#: Where a connection's queued notifications wait (its pool record's ``info``).
_QUEUED = "selfiam_notify_at_commit"
#: Marks a dialect whose commit sends the queued notifications.
_INSTALLED = "_selfiam_notify_at_commit"
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def install(engine: Engine) -> None:
    """Make ``engine``'s commits send the notifications queued in their transaction."""
    dialect = engine.dialect
    if getattr(dialect, _INSTALLED, False):
        return
    plain_commit = dialect.do_commit
    plain_rollback = dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        queued = _take(dbapi_connection)
        if not queued:
            plain_commit(dbapi_connection)
            return
        driver = dbapi_connection.driver_connection
        notifies = "".join(
            f"SELECT pg_notify({_quoted(driver, channel)}, {_quoted(driver, payload)}); "
            for channel, payload in queued
        )
        # no parameters: the simple query protocol, which runs several statements
        driver.execute(notifies + "COMMIT", prepare=False)

    def do_rollback(dbapi_connection: Any) -> None:
        _take(dbapi_connection)
        plain_rollback(dbapi_connection)

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: Any, record: Any) -> None:
        record.info.pop(_QUEUED, None)  # a transaction that ended without either

    # The dialect is this engine's own instance.
    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]
    setattr(dialect, _INSTALLED, True)


def _quoted(driver: Any, value: str) -> str:
    """``value`` as a string literal of ``driver``'s session. With standard-conforming
    strings (PostgreSQL's default) only a quote is special: doubling it is all, where
    psycopg's general quoting cost some 100 us per payload."""
    if driver.info.parameter_status("standard_conforming_strings") == "on":
        return "'" + value.replace("'", "''") + "'"
    from psycopg import sql  # PostgreSQL only

    return str(sql.Literal(value).as_string(driver))


def _take(dbapi_connection: Any) -> list[tuple[str, str]] | None:
    """Remove and return what is queued on a pooled connection (an ad hoc one, as the
    engine's first connect uses, has no ``info``: nothing is queued on it)."""
    try:
        info = dbapi_connection.info
    except NotImplementedError:
        return None
    queued: list[tuple[str, str]] | None = info.pop(_QUEUED, None)
    return queued


def notify_at_commit(conn: Connection, channel: str, payload: str) -> None:
    """``pg_notify(channel, payload)`` in ``conn``'s transaction, sent with its COMMIT."""
    if not getattr(conn.dialect, _INSTALLED, False) or conn.in_nested_transaction():
        # (inside a savepoint it must go the way the savepoint goes: run it now)
        conn.execute(_NOTIFY, {"channel": channel, "payload": payload})
        return
    conn.connection.info.setdefault(_QUEUED, []).append((channel, payload))
