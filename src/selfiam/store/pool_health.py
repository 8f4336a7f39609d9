"""PostgreSQL pooled connections checked only when they may be stale, not on every checkout.

SQLAlchemy's ``pool_pre_ping`` sends a query before every checkout: on a busy node that
is a round trip per request, as much as the request's own query. Instead a connection is
pinged on checkout only if it sat idle in the pool longer than ``IDLE_PING`` seconds, or
if the process learnt that the server may have dropped connections (the change feed's
listener lost its own: :func:`suspect_all`). A dead connection found that way is
replaced transparently (``DisconnectionError``: the pool retries with a new one), as
``pool_pre_ping`` would do.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from sqlalchemy import Engine, event, exc

#: Seconds a pooled connection may sit idle before its next checkout pings it.
IDLE_PING = 10.0
#: Seconds between attempts to make a connection for the event loop that failed.
RETRY_PREPARE = 1.0
_CHECKED_IN = "selfiam_checked_in"
#: engine -> when connections checked in before then became suspect.
_SUSPECTS: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def install(engine: Engine) -> None:
    """Ping stale connections on checkout (PostgreSQL engines)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(_CHECKED_IN)
        if last is None or not is_stale(engine, last):  # a new connection, or a fresh one
            return
        try:
            ping(dbapi)
            dbapi.rollback()  # end the transaction the driver opened for the ping
        except Exception as error:  # noqa: BLE001 (any failure: this connection is gone)
            raise exc.DisconnectionError() from error


def ping(dbapi_connection: Any) -> None:
    """One ``SELECT 1`` on a DBAPI connection; raises whatever its failure raises."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
    finally:
        cursor.close()


def is_stale(engine: Engine, last_used: float, margin: float = 0.0) -> bool:
    """Whether a connection last used at ``last_used`` (monotonic) must be pinged before
    its next use (or within ``margin`` seconds): the pool's checkout applies it, and so
    does ``engine.HeldReadConnection`` to the connections it holds outside the pool."""
    idle = time.monotonic() - last_used
    return idle >= IDLE_PING - margin or last_used <= _suspect_before(engine)


def _suspect_before(engine: Engine) -> float:
    return _SUSPECTS.get(engine, 0.0)


def suspect_all(engine: Engine) -> None:
    """Ping every pooled connection on its next checkout (the server may have restarted)."""
    _SUSPECTS[engine] = time.monotonic()
