"""Hot-path reads without SQLAlchemy's per-execution machinery.

``Connection.execute`` costs about 20 us per statement even when the statement
is cached (events, an execution context, a cursor result): on SQLite that is
five to ten times the query itself. The few reads that run on every API request
(the auth version, a user by name, a resource's tags) go through
:class:`PreparedSelect` instead. SQLAlchemy still builds the SQL (Core, compiled
once per dialect) and still converts values (each column's own bind and result
processors), so the rows are the ones ``Connection.execute`` would return; only
the execution runs straight on the transaction's DBAPI connection.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Select

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    #: bind names in the order a positional DBAPI (sqlite3) wants them; None for named
    positions: tuple[str, ...] | None
    literals: dict[str, Any]  # values the statement binds itself (``column == "x"``)
    binds: tuple[tuple[str, Processor], ...]  # bind processors that convert a value
    results: tuple[tuple[int, Processor], ...]  # column index -> result processor
    row: type


class PreparedSelect:
    """A Core ``select`` run on the DBAPI connection of a SQLAlchemy transaction.

    Rows are named tuples with the statement's column keys (``row.name``, ``row[0]``)
    and, like SQLAlchemy's rows, a ``_mapping`` view.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def all(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        compiled, raw = self._fetch(conn, params, "fetchall")
        return [_convert(compiled, values) for values in raw]

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any | None:
        compiled, values = self._fetch(conn, params, "fetchone")
        return None if values is None else _convert(compiled, values)

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any | None:
        row = self.first(conn, params)
        return None if row is None else row[0]

    def _fetch(
        self, conn: Connection, params: Mapping[str, Any] | None, fetch: str
    ) -> tuple[_Compiled, Any]:
        """Run the statement and ``fetch`` (``fetchall`` or ``fetchone``) its raw rows."""
        compiled = self._compiled(conn.dialect)
        cursor = self._execute(conn, compiled, params or {})
        try:
            return compiled, getattr(cursor, fetch)()
        finally:
            cursor.close()

    def _execute(self, conn: Connection, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
        if compiled.literals:
            params = {**compiled.literals, **params}
        if compiled.binds:
            params = dict(params)
            for name, process in compiled.binds:
                params[name] = process(params[name])
        args: Sequence[Any] | Mapping[str, Any] = (
            [params[name] for name in compiled.positions]
            if compiled.positions is not None
            else params
        )
        if not conn.in_transaction():
            conn.begin()  # as Connection.execute would (autobegin), so selfiam's BEGIN runs
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, args)
        except BaseException:
            cursor.close()
            raise
        return cursor

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            with self._lock:
                found = self._by_dialect.get(dialect.name) or _compile(self.statement, dialect)
                self._by_dialect[dialect.name] = found
        return found


def _compile(statement: Select[Any], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    literals = {
        name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
    }
    binds = []
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds.append((name, process))
    columns = list(statement.selected_columns)
    results = []
    for index, column in enumerate(columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            results.append((index, process))
    positions = tuple(compiled.positiontup or ()) if dialect.positional else None
    row = row_type([column.key for column in columns])
    return _Compiled(compiled.string, positions, literals, tuple(binds), tuple(results), row)


def row_type(keys: Sequence[str]) -> type:
    """A named tuple type with ``keys`` and, like SQLAlchemy's rows, a ``_mapping`` view
    (``_make`` builds one from a sequence of values)."""
    fields = namedtuple("Row", list(keys), rename=True)  # type: ignore[misc]
    return type("Row", (fields,), {"__slots__": (), "_mapping": property(fields._asdict)})


def _convert(compiled: _Compiled, values: Sequence[Any]) -> Any:
    if compiled.results:
        values = list(values)
        for index, process in compiled.results:
            values[index] = process(values[index])
    return compiled.row._make(values)
