"""Engines for SQLite (embedded default) and PostgreSQL (several nodes).

SQLite is set up so that concurrent writers *serialize* instead of failing
with "database is locked" half-way through a transaction:

* WAL journal, so readers never block the writer and vice versa;
* ``busy_timeout``, so a writer waits for the lock instead of failing;
* SQLAlchemy takes over ``BEGIN`` (the documented recipe: pysqlite's own
  transaction handling is switched off with ``isolation_level = None`` and a
  ``begin`` event emits our own), and emits ``BEGIN IMMEDIATE``: the write
  lock is taken at the start of the transaction, so a read-then-write
  (count keys, then insert) can never be overtaken by another writer.
  Read-only work can use :func:`read_transaction` (``BEGIN DEFERRED``) so
  that it does not queue behind writers.
* ``foreign_keys=ON`` on every connection (SQLite's default is off).

PostgreSQL runs through psycopg 3, READ COMMITTED, with row locks
(:mod:`selfiam.store.locks`) where a read-then-write must be atomic.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL

from selfiam.store import pg_commit, pool_health
from selfiam.store.write_gate import WouldWait, WriteGate, gate_of, install, is_busy

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_POOL_SIZE = 16
PG_MAX_OVERFLOW = 24
#: Execution option marking a connection whose transaction only reads.
READ_ONLY_OPTION = "selfiam_read_only"
#: Execution option: this connection's write transaction must start at once or not at
#: all (``transaction(engine, wait=False)``).
NO_WAIT_OPTION = "selfiam_no_wait"


def normalize_url(url: str | URL) -> URL:
    """Rewrite ``postgresql://``/``postgres://`` to the psycopg 3 driver."""
    u = make_url(url) if isinstance(url, str) else url
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def create_engine_for(url: str | URL, **kwargs: Any) -> Engine:
    """Create the engine for ``url`` with selfiam's settings for its backend.

    For a SQLite file the parent directory is created (first run).
    Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    """
    u = normalize_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(u, **kwargs)
    if backend == "postgresql":
        # Idle connections kept: enough for every request thread that may hold one at
        # once under a normal load, plus the audit writer. A pool smaller than the
        # concurrency closes each overflow connection on return and opens a new one on
        # the next checkout (5 kept: 58 new connections per 400 GetUser at 8 clients).
        # Stale ones are pinged on checkout only when idle or suspect (store/pool_health.py),
        # not on every checkout as pool_pre_ping would: that was a round trip per request.
        options: dict[str, Any] = {
            "pool_size": PG_POOL_SIZE,
            # Up to the request threadpool's 40 threads in all, beyond which they wait.
            "max_overflow": PG_MAX_OVERFLOW,
            "pool_recycle": 1800,
            # The most recently returned connection first: under a light load the same few
            # stay warm (idle less than IDLE_PING: no ping on checkout), where a FIFO pool
            # rotated through all 16, each idle 16 s at one request per second: a ping
            # round trip before every request.
            "pool_use_lifo": True,
        }
        options.update(kwargs)
        engine = create_engine(u, **options)
        pool_health.install(engine)
        pg_commit.install(engine)
        return engine
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def _sqlite_engine(u: URL, **kwargs: Any) -> Engine:
    database = u.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    connect_args.setdefault("check_same_thread", False)
    if not in_memory:
        # One connection per server thread that may hold a transaction (the request
        # threadpool and the audit writer), so busy servers do not reopen overflow
        # connections (and rerun the PRAGMAs below) on every checkout.
        kwargs.setdefault("pool_size", 20)
    engine = create_engine(u, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                _use_wal(cursor)
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    # A file's writers queue in this process instead of in SQLite's sleeping busy handler
    # (store/write_gate.py); an in-memory database has one connection anyway.
    begin_write = (
        None
        if in_memory
        else install(engine, WriteGate(SQLITE_BUSY_TIMEOUT_MS / 1000), SQLITE_BUSY_TIMEOUT_MS)
    )

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: BEGIN needs none of SQLAlchemy's statement machinery,
        # and it runs twice per API request.
        driver = conn.connection.driver_connection
        assert driver is not None
        options = conn.get_execution_options()
        if options.get(READ_ONLY_OPTION):
            driver.execute("BEGIN DEFERRED")
        elif begin_write is not None:
            begin_write(conn.connection, not options.get(NO_WAIT_OPTION))
        else:
            driver.execute("BEGIN IMMEDIATE")

    return engine


def _use_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (a property of the file: once one connection has
    switched it, the others find it so).

    The switch needs the file to itself, and SQLite refuses it at once, without its busy
    handler, while another connection holds the write lock (waiting could deadlock). So
    a new database opened by several processes at once (``selfiam serve`` workers running
    the migrations) could fail to start with "database is locked": the switch is tried
    again until the lock is released, for at most the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
        if time.monotonic() + pause > deadline:
            raise sqlite3.OperationalError("database is locked: cannot switch to WAL mode")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


@contextmanager
def transaction(engine: Engine, *, wait: bool = True) -> Iterator[Connection]:
    """One read-write transaction: commit on success, roll back on any error.

    On SQLite this holds the database's write lock from the start
    (``BEGIN IMMEDIATE``), so keep it short.

    ``wait=False``: start only if that needs no wait, else raise :class:`WouldWait`
    before anything ran. On a SQLite file: this process's write gate is free and SQLite
    grants the lock on the first try (``store/write_gate.py``). Elsewhere (PostgreSQL,
    whose every statement waits for the network and may wait for row locks; an
    in-memory database) it always raises: the seam where a PostgreSQL "try without
    waiting" would go.
    """
    if wait:
        with engine.begin() as conn:
            yield conn
        return
    if gate_of(engine) is None:
        raise WouldWait(f"{engine.dialect.name}: no write starts without a possible wait")
    with engine.connect() as conn:
        conn.execution_options(**{NO_WAIT_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction for reads only (SQLite: ``BEGIN DEFERRED``, no write lock).

    Writing inside it is a mistake: on SQLite it could fail with
    "database is locked" instead of waiting, row locks are refused, and on PostgreSQL
    each statement commits on its own.
    """
    with engine.connect() as conn:
        conn.execution_options(**_read_options(engine))
        with conn.begin():
            yield conn


def _read_options(engine: Engine) -> dict[str, Any]:
    """PostgreSQL runs reads in autocommit: under READ COMMITTED every statement sees its
    own snapshot anyway, so BEGIN and COMMIT would buy no consistency for two round trips."""
    if engine.dialect.name == "postgresql":
        return {READ_ONLY_OPTION: True, "isolation_level": "AUTOCOMMIT"}
    return {READ_ONLY_OPTION: True}


class HeldReadConnection:
    """Read transactions on one connection per thread, kept open between them.

    Checking a connection out of SQLAlchemy's pool and back costs about 25 us on
    SQLite: more than all the queries of a read request. On PostgreSQL a checkout also
    switches the connection to autocommit and back on return (``_read_options``), and
    that bookkeeping was the largest part of a cached GetUser's CPU after its one query.
    So each thread that reads keeps its connection: the API's cheap reads run on the
    event loop's thread (on PostgreSQL while the database answers fast:
    ``store/inline_reads.py``, and only once ``ready``), the others in the threadpool.

    A held PostgreSQL connection can go stale (a server restart, a dropped session),
    where a SQLite one cannot: before using one that sat idle longer than
    ``pool_health.IDLE_PING`` seconds, or after the process learnt the server may have
    dropped its connections (``pool_health.suspect_all``), it is pinged, and replaced if
    the ping fails, exactly as the pool checks the connections it hands out. A
    connection SQLAlchemy invalidated (a disconnect during a query) is replaced too. A
    nested use on the same thread falls back to a pooled connection.

    At most ``MAX_HELD`` threads hold one: the heavy reads run in the threadpool
    (40 threads), and had each worker kept a connection the pool (30) would be
    pinned by idle threads, every write and the audit writer waiting for one
    until the pool's timeout (a 500). Other threads use a pooled connection. On
    PostgreSQL, ``MAX_HELD_POSTGRES`` (the pool keeps 16 and allows 40: the other 32
    remain for writes, the audit writer and the threads past the limit).
    """

    MAX_HELD = 4
    MAX_HELD_POSTGRES = 8

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._reader = engine.execution_options(**_read_options(engine))
        self._hold = engine.dialect.name in ("sqlite", "postgresql")
        self._max_held = self.MAX_HELD_POSTGRES if self._postgres else self.MAX_HELD
        self._local = threading.local()
        self._held = 0
        self._held_lock = threading.Lock()
        #: Connections made or checked on another thread for a thread that asked
        #: ``ready``, by thread id, and the threads being served so.
        self._prepared: dict[int, tuple[Connection, float]] = {}
        self._preparing: set[int] = set()
        #: Told how long each read transaction of a thread that asked ``ready`` took, and
        #: how much CPU it used (seconds).
        self.on_inline: Callable[[float, float], None] | None = None

    def _may_hold(self, always: bool = False) -> bool:
        """Whether this thread may keep a connection (counted once per thread; a thread
        that asks ``ready``, the event loop's, always may). When the thread ends (the
        threadpool retires idle workers) its place is freed and its connection returned
        to the pool (a finalizer on a thread-local token)."""
        with self._held_lock:
            if self._held >= self._max_held and not always:
                return False
            self._held += 1
        token = _Token()
        self._local.token = token
        slot: list[Connection] = []
        self._local.slot = slot
        weakref.finalize(token, _release, weakref.ref(self), slot)
        return True

    def _freed(self) -> None:
        with self._held_lock:
            self._held -= 1

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A read transaction, as :func:`read_transaction` gives."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None and self._hold and not getattr(self._local, "asked", False):
            self._local.asked = True
            self._local.holds = self._may_hold()
        holds = self._hold and getattr(self._local, "holds", False)
        if not holds or (conn is not None and conn.in_transaction()):
            with read_transaction(self._engine) as pooled:
                yield pooled
            return
        if (
            conn is not None
            and self._postgres
            and not (conn.invalidated or conn.closed)
            and pool_health.is_stale(self._engine, self._local.used)
            and not _alive(conn)
        ):
            conn.invalidate()
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None:
                conn.close()
            conn = self._reader.connect()
            self._local.conn = conn
            self._local.slot[:] = [conn]
        started, cpu = time.monotonic(), time.thread_time()
        try:
            with conn.begin():
                yield conn
        finally:
            self._local.used = ended = time.monotonic()
            if self.on_inline is not None and getattr(self._local, "inline", False):
                self.on_inline(ended - started, time.thread_time() - cpu)

    def ready(self) -> bool:
        """Whether this thread's next ``transaction`` waits for nothing but its own
        queries: it holds a connection that needs no ping (not stale nor suspect:
        ``pool_health``), so there is no pool checkout (which could wait for a connection
        a threadpool request holds), no connect, no ping. If not, a connection is made, or
        the held one pinged, on another thread, and handed over by a later call; until
        then the caller must send its reads elsewhere. Meant for the event loop's thread."""
        local = self._local
        if not getattr(local, "holds", False):
            local.asked = True
            local.holds = self._may_hold(always=True)
        local.inline = True
        conn: Connection | None = getattr(local, "conn", None)
        if conn is None:
            with self._held_lock:
                prepared = self._prepared.pop(threading.get_ident(), None)
            if prepared is not None:
                conn, local.used = prepared
                local.conn = conn
                local.slot[:] = [conn]
        if conn is not None and conn.in_transaction():
            return False  # a nested use: a pooled connection, which may wait
        usable = conn is not None and not (conn.closed or conn.invalidated)
        if usable and not (
            self._postgres and pool_health.is_stale(self._engine, local.used, margin=1.0)
        ):
            return True
        if conn is not None:
            local.conn = None
            local.slot[:] = []
        self._prepare(conn)
        return False

    def _prepare(self, conn: Connection | None) -> None:
        """On a new thread: check ``conn`` (or connect anew) for the calling thread."""
        ident = threading.get_ident()
        with self._held_lock:
            if ident in self._preparing:
                if conn is not None:  # cannot happen: it was handed over already
                    conn.close()
                return
            self._preparing.add(ident)
        threading.Thread(
            target=self._prepare_for,
            args=(ident, conn),
            name="selfiam-read-connect",
            daemon=True,
        ).start()

    def _prepare_for(self, ident: int, conn: Connection | None) -> None:
        fresh: Connection | None = None
        try:
            if conn is not None and not (conn.closed or conn.invalidated):
                if not self._postgres or _alive(conn):
                    fresh, conn = conn, None
                else:
                    conn.invalidate()
            if conn is not None:
                conn.close()
            if fresh is None:
                fresh = self._reader.connect()
        except Exception:  # noqa: BLE001 (the database is away: reads stay in the threadpool)
            log.debug("preparing a read connection failed", exc_info=True)
            time.sleep(pool_health.RETRY_PREPARE)
        finally:
            alive = {th.ident for th in threading.enumerate()}
            with self._held_lock:
                self._preparing.discard(ident)
                if fresh is not None:
                    self._prepared[ident] = (fresh, time.monotonic())
                gone = [i for i in self._prepared if i not in alive]
                unclaimed = [self._prepared.pop(i)[0] for i in gone]
            for orphan in unclaimed:  # its thread ended before taking it (an event loop)
                orphan.close()


class _Token:
    """Lives exactly as long as a thread that holds a connection (in its thread-local)."""


def _release(owner: weakref.ref[HeldReadConnection], slot: list[Connection]) -> None:
    """A holding thread ended: free its place, return its connection to the pool."""
    held = owner()
    if held is not None:
        held._freed()
    for conn in slot:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 (a dead connection: the pool discards it)
            log.debug("closing a finished thread's read connection failed", exc_info=True)


def _alive(conn: Connection) -> bool:
    """Whether a held PostgreSQL connection (autocommit: no transaction is left open)
    still answers."""
    try:
        pool_health.ping(conn.connection.dbapi_connection)
    except Exception:  # noqa: BLE001 (any failure: this connection is gone)
        return False
    return True


def is_read_only(conn: Connection) -> bool:
    """True if ``conn`` was opened by :func:`read_transaction`."""
    return bool(conn.get_execution_options().get(READ_ONLY_OPTION))
