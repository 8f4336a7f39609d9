"""PostgreSQL: the last statements of a transaction sent with its ``COMMIT``, in one round trip.

A write publishes what it changed with ``pg_notify`` (``store/change_feed.py``), which
PostgreSQL delivers at commit, never for a rolled-back transaction, and ends with its
audit record (``service/audit.write_record``). Neither returns anything the write reads,
and where in the transaction they run makes no difference to anyone, so neither needs a
round trip of its own while the write holds its row locks: :func:`notify_at_commit` and
:func:`run_at_commit` queue them on the connection, and the engine's commit sends
``INSERT ...; SELECT pg_notify(...); COMMIT`` as one simple-protocol query. A rollback
drops what was queued; a queued statement that fails fails the COMMIT (the transaction
is rolled back, and the error raised from ``commit()``). psycopg's own ``commit()`` then
finds the session idle and sends nothing. On this machine a round trip costs the client
0.17-0.2 ms of CPU (a wake-up each way) besides its wait.

The simple protocol takes no parameters: values are written as literals
(:func:`literals`: text, integers, booleans, aware timestamps, bytes, NULL), text quoted
by doubling quotes under ``standard_conforming_strings`` (PostgreSQL's default) and by
psycopg otherwise, bytes in bytea's hex form. A statement with any other value (a NUL
in a text; bytes without standard-conforming strings) runs at once, as
on an engine that :func:`install` was not called on (one not made by
``engine.create_engine_for``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
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
        # no parameters: the simple query protocol, which runs several statements
        dbapi_connection.driver_connection.execute("".join(queued) + "COMMIT", prepare=False)

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


def _quoted(driver: Any, value: str, standard: bool) -> str:
    """``value`` as a string literal of ``driver``'s session, whose strings are
    ``standard`` (:func:`_standard_strings`, read when the statement is written: a
    configuration reload may change it in a live session). With standard-conforming
    strings (PostgreSQL's default) only a quote is special: doubling it is all, where
    psycopg's general quoting cost some 100 us per payload."""
    if standard:
        return "'" + value.replace("'", "''") + "'"
    from psycopg import sql  # PostgreSQL only

    return str(sql.Literal(value).as_string(driver))


class NotLiteral(ValueError):
    """A value :func:`literals` does not write (the statement is run at once instead)."""


def literals(driver: Any, values: Mapping[str, Any]) -> dict[str, str]:
    """Each of ``values`` (as the driver would be given them) as an SQL literal of
    ``driver``'s session, whose string syntax is read once for them all. A text holding
    NUL (which PostgreSQL refuses either way), bytes without standard-conforming strings,
    or a value of another type is :class:`NotLiteral`."""
    standard = _standard_strings(driver)
    return {name: _literal(driver, value, standard) for name, value in values.items()}


def _literal(driver: Any, value: Any, standard: bool) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise NotLiteral("a naive datetime")
        return _quoted(driver, value.isoformat(), standard)
    if isinstance(value, str) and "\x00" not in value:
        return _quoted(driver, value, standard)
    from psycopg.dbapi20 import Binary  # what SQLAlchemy's bind processor wraps bytes in

    if isinstance(value, Binary):
        value = value.obj
    if isinstance(value, bytes | bytearray | memoryview) and standard:
        return "'\\x" + bytes(value).hex() + "'"  # bytea's hex input: hex digits only
    raise NotLiteral(type(value).__name__)


def _standard_strings(driver: Any) -> bool:
    return bool(driver.info.parameter_status("standard_conforming_strings") == "on")


def _take(dbapi_connection: Any) -> list[str] | None:
    """Remove and return what is queued on a pooled connection (an ad hoc one, as the
    engine's first connect uses, has no ``info``: nothing is queued on it)."""
    try:
        info = dbapi_connection.info
    except NotImplementedError:
        return None
    queued: list[str] | None = info.pop(_QUEUED, None)
    return queued


def queues(conn: Connection) -> bool:
    """Whether statements run in ``conn``'s transaction may be queued for its COMMIT:
    an installed engine, outside a savepoint (whose statements must go the way the
    savepoint goes)."""
    return getattr(conn.dialect, _INSTALLED, False) and not conn.in_nested_transaction()


def notify_at_commit(conn: Connection, channel: str, payload: str) -> None:
    """``pg_notify(channel, payload)`` in ``conn``'s transaction, sent with its COMMIT."""
    if not queues(conn):
        conn.execute(_NOTIFY, {"channel": channel, "payload": payload})
        return
    driver = conn.connection.driver_connection
    standard = _standard_strings(driver)
    quoted_channel, quoted_payload = (_quoted(driver, v, standard) for v in (channel, payload))
    run_at_commit(conn, f"SELECT pg_notify({quoted_channel}, {quoted_payload}); ")


def run_at_commit(conn: Connection, statement: str) -> None:
    """Send ``statement`` (complete, ending with "; ") with ``conn``'s COMMIT; only where
    :func:`queues` says so."""
    conn.connection.info.setdefault(_QUEUED, []).append(statement)
