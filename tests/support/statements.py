"""Every statement a test's engine sends to its database, counted at the driver.

SQLAlchemy's ``before_cursor_execute`` event misses what runs straight on the DBAPI
connection (``store/prepared.py``'s hot-path reads, SQLite's ``BEGIN`` issued by
``store/engine.py``), so the counting happens below SQLAlchemy: sqlite3's trace callback
sees every statement SQLite runs (``BEGIN IMMEDIATE`` and ``COMMIT`` included); on
PostgreSQL a psycopg cursor class records each ``execute`` and the engine's ``commit``
and ``rollback`` events record the transaction ends (psycopg sends ``BEGIN`` itself before
a transaction's first statement: one per transaction, not listed).

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
        if not self._sqlite:
            event.listen(engine, "commit", lambda _c: self._note("COMMIT"))
            event.listen(engine, "rollback", lambda _c: self._note("ROLLBACK"))

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

    def count(self, prefix: str) -> int:
        """How many recorded statements start with ``prefix`` (case-insensitive)."""
        return sum(1 for s in self.statements if s.upper().startswith(prefix.upper()))
