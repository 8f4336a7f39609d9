"""One SQLite write transaction at a time per process, handed over in arrival order.

SQLite has one write lock per database file. When several threads of one process
``BEGIN IMMEDIATE`` at once, all but one get ``SQLITE_BUSY`` and wait in SQLite's
busy handler, which *sleeps* (1, 2, 5, 10 … 100 ms) and polls: a writer often sleeps
long after the lock was freed, and the unlucky ones sleep again and again. At 8
concurrent CreateUser that made the p99 latency 0.6–1 s for transactions that hold the
lock for about a millisecond.

:class:`WriteGate` queues a process's writers before they ask SQLite: a write
transaction passes the gate (first come, first served) just before its
``BEGIN IMMEDIATE`` and leaves it right after its ``COMMIT`` or ``ROLLBACK``, so the
lock is handed straight to the next writer with no sleep. The gate only orders the
writers of this process: several processes on one file still meet at SQLite's lock,
and ``busy_timeout`` still makes them wait for each other (correctness never depends on
the gate, only the tail latency). A thread that opens a second write transaction while
it holds one (on another connection) is not queued behind itself; nor does the gate
wait forever: after ``timeout`` seconds a writer goes on to SQLite's own lock.

:func:`install` wires a gate into a SQLite engine: the dialect's ``do_commit`` and
``do_rollback`` (also used by the pool's reset-on-return, so a connection returned
without either still leaves) release it after the statement ran.

A write may also ask not to wait at all (``begin_write(..., wait=False)``, which the API
uses to run a cheap write on the event loop): it passes only if the gate is free (nobody
holds it, nobody queues) and SQLite grants ``BEGIN IMMEDIATE`` on the first try (another
process may hold the lock); otherwise it raises :class:`WouldWait` having taken nothing.
Its COMMIT leaves the WAL checkpoint it may be due to a thread (``store/checkpoints.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import Any

from sqlalchemy import Engine, event

from selfiam.store.checkpoints import BackgroundCheckpoints

#: SQLite's primary result code for "the database file is locked" (the low byte of an
#: extended code such as SQLITE_BUSY_RECOVERY).
_SQLITE_BUSY = 5

#: Key in a pooled connection's ``info``: this connection's transaction passed the gate.
_HOLDS = "selfiam_write_gate"
#: Key in a pooled connection's ``info``: its transaction began without waiting (and
#: leaves its WAL checkpoint to a thread: store/checkpoints.py).
_AT_ONCE = "selfiam_write_at_once"
_GATES: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


class WouldWait(Exception):
    """A write transaction asked not to wait could not start at once. Raised before its
    ``BEGIN`` succeeded: nothing was done, nothing is held, the caller may start over
    where waiting is harmless.

    ``here``: what it would wait for is this process's own write gate (another of its
    writers holds or awaits the turn), which :meth:`WriteGate.when_free` announces; not
    another process's lock, nor a reason that no waiting would remove."""

    def __init__(self, reason: str, *, here: bool = False) -> None:
        super().__init__(reason)
        self.here = here


def gate_of(engine: Engine) -> WriteGate | None:
    """The gate :func:`install` put on ``engine`` (None: PostgreSQL, in-memory SQLite)."""
    return _GATES.get(engine)


class WriteGate:
    """A FIFO lock with hand-over, re-entrant per thread (counted, not owned)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._mutex = threading.Lock()
        self._busy = False
        self._waiters: deque[threading.Lock] = deque()
        self._when_free: list[Callable[[], None]] = []
        self._local = threading.local()

    def enter(self, info: MutableMapping[str, Any]) -> None:
        """Wait for this thread's turn; mark ``info`` (a connection's) as holding it."""
        depth = getattr(self._local, "depth", 0)
        if depth == 0 and not self._acquire():
            return  # timed out: SQLite's busy handler takes over, as without a gate
        self._local.depth = depth + 1
        info[_HOLDS] = True

    def try_enter(self, info: MutableMapping[str, Any]) -> bool:
        """Take the turn only if it is free now: nobody holds it and nobody queues for it
        (so no waiting writer is overtaken). False, taking nothing, otherwise, and in a
        thread that holds it already (its own transaction would hold SQLite's lock)."""
        if getattr(self._local, "depth", 0):
            return False
        with self._mutex:
            if self._busy or self._waiters:
                return False
            self._busy = True
        self._local.depth = 1
        info[_HOLDS] = True
        return True

    def leave(self, info: MutableMapping[str, Any] | None) -> None:
        """Release the turn ``info``'s transaction took (nothing if it took none)."""
        if info is None or not info.pop(_HOLDS, False):
            return
        depth = getattr(self._local, "depth", 1) - 1
        self._local.depth = max(depth, 0)
        if depth <= 0:
            self._release()

    def when_free(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the gate is free with nobody queued: at once if it is,
        else from the thread whose release frees it. For a writer that must not block
        (the event loop's) and would rather try again than queue: threads queued before
        it go first, so none of them is overtaken."""
        with self._mutex:
            free = not self._busy and not self._waiters
            if not free:
                self._when_free.append(callback)
        if free:
            callback()

    def forget(self, callback: Callable[[], None]) -> None:
        """Drop a ``when_free`` callback no longer wanted (its waiter gave up)."""
        with self._mutex, contextlib.suppress(ValueError):
            self._when_free.remove(callback)

    @property
    def busy(self) -> bool:
        """Whether a write transaction holds the gate now."""
        return self._busy

    @property
    def waiting(self) -> int:
        """How many writers wait for their turn."""
        return len(self._waiters)

    def _acquire(self) -> bool:
        with self._mutex:
            if not self._busy:
                self._busy = True
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=self.timeout):
            return True  # handed over by _release
        with self._mutex:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                return True  # handed over between the timeout and the mutex
            return False

    def _release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # still busy: the turn passes on
                return
            self._busy = False
            callbacks, self._when_free = self._when_free, []
        for callback in callbacks:
            callback()


async def free_turn(gate: WriteGate, timeout: float) -> bool:
    """Wait, without blocking the event loop, until ``gate`` is free with nobody queued
    (True), or ``timeout`` seconds (False). The turn is not taken: the caller tries again,
    and may find that a thread took it first."""
    loop = asyncio.get_running_loop()
    freed = loop.create_future()

    def on_loop() -> None:
        if not freed.done():
            freed.set_result(None)

    def callback() -> None:
        loop.call_soon_threadsafe(on_loop)

    gate.when_free(callback)
    try:
        await asyncio.wait_for(freed, timeout)
    except TimeoutError:
        gate.forget(callback)
        return False
    return True


def install(engine: Engine, gate: WriteGate, busy_timeout_ms: int) -> Callable[[Any, bool], None]:
    """Make ``engine``'s write transactions leave ``gate`` when they end; return the
    function that begins one (``BEGIN IMMEDIATE`` on a pooled connection, inside the
    gate: a failed BEGIN leaves it at once). ``busy_timeout_ms`` is the connections'
    own busy timeout, put back after a BEGIN that was not to wait."""
    _GATES[engine] = gate
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    checkpoints = BackgroundCheckpoints(engine)

    def ended(dbapi_connection: Any) -> None:
        info = _info(dbapi_connection)
        try:
            if info is not None and info.pop(_AT_ONCE, False):
                checkpoints.ended(dbapi_connection.driver_connection)
        finally:
            gate.leave(info)

    def commit(dbapi_connection: Any) -> None:
        try:
            do_commit(dbapi_connection)
        finally:
            ended(dbapi_connection)

    def rollback(dbapi_connection: Any) -> None:
        try:
            do_rollback(dbapi_connection)
        finally:
            ended(dbapi_connection)

    setattr(dialect, "do_commit", commit)  # noqa: B010 (an instance's own method)
    setattr(dialect, "do_rollback", rollback)  # noqa: B010

    @event.listens_for(engine, "invalidate")
    def _invalidated(_dbapi: Any, record: Any, _exc: Any) -> None:
        record.info.pop(_AT_ONCE, None)
        gate.leave(record.info)

    def begin_write(fairy: Any, wait: bool = True) -> None:
        if wait:
            gate.enter(fairy.info)
        elif not gate.try_enter(fairy.info):
            raise WouldWait(
                "another write transaction of this process holds or awaits the lock", here=True
            )
        try:
            if wait:
                fairy.driver_connection.execute("BEGIN IMMEDIATE")
            else:
                _begin_at_once(fairy.driver_connection, busy_timeout_ms)
                checkpoints.defer(fairy.driver_connection)
                fairy.info[_AT_ONCE] = True
        except BaseException:
            gate.leave(fairy.info)
            raise

    return begin_write


def _begin_at_once(driver: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE`` with SQLite's busy handler off for this one attempt: if another
    connection (another process) holds the write lock, :class:`WouldWait` at once."""
    driver.execute("PRAGMA busy_timeout = 0")
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if is_busy(error):
            raise WouldWait("another connection holds the database's write lock") from None
        raise
    finally:
        driver.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")


def is_busy(error: sqlite3.Error) -> bool:
    """Whether SQLite refused ``error``'s statement because another connection holds a
    lock it needs (SQLITE_BUSY, "database is locked"), rather than for another reason."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY


def _info(dbapi_connection: Any) -> MutableMapping[str, Any] | None:
    """A pooled connection's ``info`` (None for the engine's first, unpooled, one)."""
    try:
        info: MutableMapping[str, Any] = dbapi_connection.info
    except (AttributeError, NotImplementedError):
        return None
    return info
