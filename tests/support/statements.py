"""Every statement a test's engine sends to its database, counted at the driver.

SQLAlchemy's ``before_cursor_execute`` event misses what runs straight on the DBAPI
connection (``store/prepared.py``'s hot-path reads, SQLite's ``BEGIN`` issued by
``store/engine.py``), so the counting happens below SQLAlchemy: sqlite3's trace callback
sees every statement SQLite runs (``BEGIN IMMEDIATE`` and ``COMMIT`` included); on
PostgreSQL a psycopg cursor class records each ``execute``, and the connection's
``commit`` and ``rollback`` record a transaction's end when they send one (psycopg sends
``BEGIN`` itself before a transaction's first statement: one per transaction, not
listed). A write's ``COMMIT`` may travel in one query with its notifications
(``store/pg_commit.py``): ``SELECT pg_notify(...); COMMIT`` is one statement, a commit
(:func:`is_commit`).

Install it on a new engine, before it opens its first connection::

    log = StatementLog(engine)
    with log.recording():
        ...
    log.statements  # ["BEGIN IMMEDIATE", "SELECT ...", ..., "COMMIT"]
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Engine, event

#: session-level statements run once per new connection, never per request
_SETUP = ("PRAGMA ",)
#: The batching audit writer's thread (service/audit.py): its batches (read records, last
#: uses) are its own transactions, whenever it wakes, never a request's statements.
AUDIT_WRITER = "selfiam-audit"


class StatementLog:
    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        self._on = False
        self._lock = threading.Lock()
        self._sqlite = engine.dialect.name == "sqlite"
        event.listen(engine, "connect", self._connected)

    def _note(self, statement: str) -> None:
        if threading.current_thread().name == AUDIT_WRITER:
            return
        if self._on and not statement.startswith(_SETUP):
            with self._lock:
                self.statements.append(" ".join(statement.split()))

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        if self._sqlite:
            dbapi_connection.set_trace_callback(self._note)
            return
        log = self

        class Counting(psycopg.Cursor):
            def execute(self, query: Any, *args: Any, **kw: Any) -> Any:
                log._note(query if isinstance(query, str) else str(query))
                return super().execute(query, *args, **kw)

            def executemany(self, query: Any, params_seq: Any, **kw: Any) -> Any:
                rows = list(params_seq)
                for _ in rows:
                    log._note(query if isinstance(query, str) else str(query))
                return super().executemany(query, rows, **kw)

        dbapi_connection.cursor_factory = Counting
        for end in ("commit", "rollback"):
            dbapi_connection.__dict__[end] = self._ending(dbapi_connection, end)

    def _ending(self, dbapi_connection: Any, end: str) -> Any:
        """psycopg's ``commit``/``rollback``, noted when it sends its statement (it sends
        nothing when no transaction is open: autocommit reads, a commit already sent)."""
        plain = getattr(dbapi_connection, end)

        def ending() -> None:
            if dbapi_connection.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self._note(end.upper())
            plain()

        return ending

    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        """Record (from empty) what the engine sends inside the block."""
        with self._lock:
            self.statements = []
        self._on = True
        try:
            yield self.statements
        finally:
            self._on = False

    def commits(self) -> int:
        """How many recorded statements commit (a ``COMMIT``, or a query ending in one)."""
        return sum(1 for s in self.statements if is_commit(s))

    def count(self, prefix: str) -> int:
        """How many recorded statements start with ``prefix`` (case-insensitive)."""
        return sum(1 for s in self.statements if s.upper().startswith(prefix.upper()))


def is_commit(statement: str) -> bool:
    """Whether ``statement`` (as recorded) commits: ``COMMIT``, or several statements the
    last of which is ``COMMIT`` (a write's notifications sent with it)."""
    upper = statement.upper()
    return upper == "COMMIT" or upper.endswith("; COMMIT")
