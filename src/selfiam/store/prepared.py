"""Hot-path statements without SQLAlchemy's per-execution machinery.

``Connection.execute`` costs about 20 us per statement even when the statement
is cached (events, an execution context, a cursor result): on SQLite that is
five to ten times the query itself. The few statements that run on every API
request go through :class:`PreparedSelect` (the auth version, a user by name, a
resource's tags, a quota's count) and :class:`PreparedWrite` (a write's inserts,
updates and deletes, its change-feed row and its audit record) instead.
SQLAlchemy still builds the SQL (Core, compiled once per dialect) and still
converts values (each column's own bind and result processors), so the rows are
the ones ``Connection.execute`` would read and store, and a failing statement
raises the exception it would raise (``IntegrityError``, ...); only the
execution runs straight on the transaction's DBAPI connection.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Delete,
    Dialect,
    Insert,
    Select,
    Table,
    TextClause,
    Update,
)

from selfiam.store import pg_commit

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    #: bind names in the order a positional DBAPI (sqlite3) wants them; None for named
    positions: tuple[str, ...] | None
    #: values the statement binds itself (``column == "x"``, an INSERT's column defaults)
    literals: dict[str, Any]
    binds: tuple[tuple[str, Processor], ...]  # bind processors that convert a value
    results: tuple[tuple[int, Processor], ...] = ()  # column index -> result processor
    row: Any = tuple  # the row type: a named tuple class (``_make``)


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
        cursor = _execute(conn, compiled, params or {})
        try:
            return compiled, getattr(cursor, fetch)()
        finally:
            cursor.close()

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            with self._lock:
                found = self._by_dialect.get(dialect.name) or _compile_select(
                    self.statement, dialect
                )
                self._by_dialect[dialect.name] = found
        return found


class _PreparedByName:
    """Prepared statements of one shape, made on first use and kept by name (of a table,
    a column...: SQLAlchemy's own objects compare into SQL expressions, not booleans)."""

    def __init__(self) -> None:
        self._made: dict[tuple[Any, ...], Any] = {}

    def _get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        found = self._made.get(key)
        if found is None:
            found = self._made.setdefault(key, make())
        return found


class PreparedPerColumn(_PreparedByName):
    """One :class:`PreparedSelect` per column, built by ``build(column)`` on first use: a
    statement of the same shape over several tables (a row lock, a quota's count, a
    credential of a user by id)."""

    def __init__(self, build: Callable[[Any], Select[Any]]) -> None:
        super().__init__()
        self._build = build

    def __call__(self, column: Any) -> PreparedSelect:
        found: PreparedSelect = self._get(
            (column.table.name, column.name), lambda: PreparedSelect(self._build(column))
        )
        return found


class Written(NamedTuple):
    rowcount: int
    #: the row id SQLite gave an inserted row (its INTEGER PRIMARY KEY); None on PostgreSQL
    lastrowid: int | None


class PreparedWrite:
    """A Core INSERT, UPDATE or DELETE (or a ``text()`` statement whose rows are not
    wanted, such as ``pg_notify``) run on the DBAPI connection of a SQLAlchemy transaction.

    It is compiled as ``Connection.execute`` compiles it: once per dialect and set of
    parameter names, an INSERT naming exactly the columns given plus those with a Python
    default, filled in from it. Unlike ``Connection.execute`` an INSERT never fetches the
    primary key the database generated (PostgreSQL's implicit ``RETURNING``): SQLite's is
    the cursor's ``lastrowid``.
    """

    def __init__(self, statement: Insert | Update | Delete | TextClause) -> None:
        self.statement = statement.inline() if isinstance(statement, Insert) else statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}
        self._lock = threading.Lock()

    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Written:
        params = params or {}
        cursor = _execute(conn, self.compiled(conn.dialect, tuple(params)), params)
        try:
            return Written(cursor.rowcount, getattr(cursor, "lastrowid", None))
        finally:
            cursor.close()

    def execute_at_commit(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Run the statement with ``conn``'s COMMIT, in the same round trip, where
        ``store/pg_commit.py`` can queue it (PostgreSQL), else now. For a statement whose
        outcome nothing in the transaction reads (an audit record): a failure fails the
        commit instead of this call."""
        if not pg_commit.queues(conn):
            self.execute(conn, params)
            return
        compiled = self.compiled(conn.dialect, tuple(params))
        values = arguments(compiled, params)
        assert isinstance(values, Mapping)  # psycopg's named parameters
        driver = conn.connection.driver_connection
        try:
            literals = pg_commit.literals(driver, values)
        except pg_commit.NotLiteral:
            self.execute(conn, params)
            return
        pg_commit.run_at_commit(conn, compiled.sql % literals + "; ")

    def compiled(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        """The statement as run with parameters ``keys`` (compiled on first use)."""
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            with self._lock:
                found = self._compiled.get((dialect.name, keys)) or _compile_write(
                    self.statement, dialect, keys
                )
                self._compiled[dialect.name, keys] = found
        return found


class PreparedPerTable(_PreparedByName):
    """One :class:`PreparedWrite` per table and further names (its columns...), built by
    ``build(table, *names)`` on first use: a write of the same shape over several tables
    (an insert within a quota)."""

    def __init__(self, build: Callable[..., Insert | Update | Delete | TextClause]) -> None:
        super().__init__()
        self._build = build

    def __call__(self, table: Table, *names: Any) -> PreparedWrite:
        found: PreparedWrite = self._get(
            (table.name, *names), lambda: PreparedWrite(self._build(table, *names))
        )
        return found


def arguments(compiled: _Compiled, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
    """What the DBAPI cursor is given for ``params``: converted, in the driver's style."""
    if compiled.literals:
        params = {**compiled.literals, **params}
    if compiled.binds:
        params = dict(params)
        for name, process in compiled.binds:
            params[name] = process(params[name])
    if compiled.positions is not None:
        return [params[name] for name in compiled.positions]
    return params


def _execute(conn: Connection, compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    """The cursor ``compiled`` ran on with ``params``; a DBAPI error is SQLAlchemy's."""
    args = arguments(compiled, params)
    if not conn.in_transaction():
        conn.begin()  # as Connection.execute would (autobegin), so selfiam's BEGIN runs
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(compiled.sql, args)
    except BaseException as error:
        # Wrapped (IntegrityError, OperationalError...), a lost connection invalidated,
        # the engine's handle_error events run: what Connection.execute does on a failure.
        conn._handle_dbapi_exception(error, compiled.sql, args, cursor, None)
    return cursor


def _compile_select(statement: Select[Any], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    columns = list(statement.selected_columns)
    results = []
    for index, column in enumerate(columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            results.append((index, process))
    sql, positions, literals, binds = _statement_parts(compiled, dialect)
    row = row_type([str(column.key) for column in columns])
    return _Compiled(sql, positions, literals, binds, tuple(results), row)


def _compile_write(
    statement: Insert | Update | Delete | TextClause, dialect: Dialect, keys: tuple[str, ...]
) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect, column_keys=sorted(keys))
    if getattr(compiled, "effective_returning", None):
        raise ValueError("PreparedWrite runs no RETURNING statement")
    sql, positions, literals, binds = _statement_parts(compiled, dialect)
    for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
        default = column.onupdate if compiled.isupdate else column.default
        if not default.is_scalar:
            raise ValueError(f"{column}: give it a value (its default is not a constant)")
        literals[column.key] = default.arg
    return _Compiled(sql, positions, literals, binds)


def _statement_parts(
    compiled: Any, dialect: Dialect
) -> tuple[str, tuple[str, ...] | None, dict[str, Any], tuple[tuple[str, Processor], ...]]:
    if compiled.escaped_bind_names:
        raise ValueError("a prepared statement's parameter names must need no escaping")
    literals = {
        name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
    }
    binds = []
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds.append((name, process))
    positions = tuple(compiled.positiontup or ()) if dialect.positional else None
    return compiled.string, positions, literals, tuple(binds)


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
