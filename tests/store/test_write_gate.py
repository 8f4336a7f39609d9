"""The SQLite write gate (store/write_gate.py): a process's writers take turns in arrival
order, every way a write transaction ends gives the turn back, and a thread never waits
for itself. Nothing here is timed: order and state are observed, waits are bounded by
events."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from selfiam.store import checkpoints
from selfiam.store.checkpoints import BackgroundCheckpoints
from selfiam.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    create_engine_for,
    read_transaction,
    transaction,
)
from selfiam.store.write_gate import WouldWait, WriteGate, free_turn, gate_of

WAIT = 30.0  # a bound on a wait that should end at once, not a measured time


def _wait_until(condition: object, what: str) -> None:
    event = threading.Event()
    for _ in range(3000):
        if condition():  # type: ignore[operator]
            return
        event.wait(0.01)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = create_engine_for(f"sqlite:///{tmp_path / 'gate.db'}")
    with transaction(built) as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield built
    built.dispose()


def test_writers_pass_in_arrival_order() -> None:
    gate = WriteGate(timeout=WAIT)
    first: dict[str, bool] = {}
    gate.enter(first)
    order: list[int] = []

    def writer(n: int) -> None:
        mine: dict[str, bool] = {}
        gate.enter(mine)
        order.append(n)
        gate.leave(mine)

    threads = []
    for n in range(5):
        th = threading.Thread(target=writer, args=(n,))
        th.start()
        threads.append(th)
        _wait_until(lambda n=n: gate.waiting == n + 1, f"writer {n} queued")
    gate.leave(first)
    for th in threads:
        th.join(WAIT)
    assert order == [0, 1, 2, 3, 4]
    assert not gate.busy and gate.waiting == 0


def test_a_thread_holding_the_gate_is_not_queued_behind_itself() -> None:
    gate = WriteGate(timeout=WAIT)
    outer: dict[str, bool] = {}
    inner: dict[str, bool] = {}
    gate.enter(outer)
    gate.enter(inner)  # would never return if the gate waited for its own holder
    gate.leave(inner)
    assert gate.busy
    gate.leave(outer)
    assert not gate.busy


def test_a_writer_that_waited_too_long_goes_on_without_the_gate() -> None:
    gate = WriteGate(timeout=0.01)
    held: dict[str, bool] = {}
    gate.enter(held)
    result: dict[str, bool] = {}
    th = threading.Thread(target=gate.enter, args=(result,))
    th.start()
    th.join(WAIT)
    assert result == {}  # not marked as holding: its leave() releases nothing
    assert gate.waiting == 0
    gate.leave(result)
    assert gate.busy  # still the first holder's
    gate.leave(held)
    assert not gate.busy


def test_every_end_of_a_write_transaction_gives_the_turn_back(engine: Engine) -> None:
    gate = gate_of(engine)
    assert gate is not None
    with transaction(engine) as conn:
        assert gate.busy
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert not gate.busy  # commit
    with pytest.raises(ZeroDivisionError), transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert gate.busy
        _ = 1 / 0
    assert not gate.busy  # rollback
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (3)"))  # autobegin: BEGIN IMMEDIATE
    assert gate.busy
    conn.close()  # neither commit nor rollback: the pool's reset on return
    assert not gate.busy
    with read_transaction(engine) as reader:
        assert not gate.busy  # reads never queue
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1


def test_a_failed_begin_gives_the_turn_back(engine: Engine) -> None:
    gate = gate_of(engine)
    assert gate is not None
    other = create_engine_for(engine.url)
    try:
        with other.connect() as blocker:
            # Another engine (as another process would) holds SQLite's write lock.
            blocker.execute(text("INSERT INTO t VALUES (1)"))
            with engine.connect() as conn:
                driver: Any = conn.connection.driver_connection
                driver.execute("PRAGMA busy_timeout = 0")
                with pytest.raises(Exception, match="locked"):
                    conn.begin()
            assert not gate.busy
            blocker.commit()
    finally:
        other.dispose()
    with transaction(engine) as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    with read_transaction(engine) as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 2


def test_an_in_memory_database_has_no_gate() -> None:
    memory = create_engine_for("sqlite://")
    try:
        assert gate_of(memory) is None
    finally:
        memory.dispose()


# -- a write that must not wait (the API's light writes on the event loop) -----------------


def test_try_enter_takes_only_a_free_turn() -> None:
    gate = WriteGate(timeout=WAIT)
    mine: dict[str, bool] = {}
    assert gate.try_enter(mine) and gate.busy
    assert not gate.try_enter({})  # this thread holds it: its own lock would refuse it
    other: dict[str, bool] = {}
    taken: list[bool] = []
    th = threading.Thread(target=lambda: taken.append(gate.try_enter(other)))
    th.start()
    th.join(WAIT)
    assert taken == [False] and other == {} and gate.waiting == 0
    queued: dict[str, bool] = {}
    waiter = threading.Thread(target=gate.enter, args=(queued,))
    waiter.start()
    _wait_until(lambda: gate.waiting == 1, "a writer queued")
    gate.leave(mine)  # handed to the queued writer
    waiter.join(WAIT)
    th = threading.Thread(target=lambda: taken.append(gate.try_enter(other)))
    th.start()
    th.join(WAIT)
    assert taken == [False, False]  # held by the writer that queued
    gate.leave(queued)
    assert not gate.busy
    assert gate.try_enter(mine)
    gate.leave(mine)
    assert not gate.busy


def test_when_free_waits_for_the_holder_and_every_queued_writer() -> None:
    gate = WriteGate(timeout=WAIT)
    calls: list[str] = []
    gate.when_free(lambda: calls.append("free at once"))
    assert calls == ["free at once"]
    held: dict[str, bool] = {}
    gate.enter(held)
    gate.when_free(lambda: calls.append("freed"))
    dropped = lambda: calls.append("forgotten")  # noqa: E731
    gate.when_free(dropped)
    gate.forget(dropped)
    queued: dict[str, bool] = {}
    waiter = threading.Thread(target=gate.enter, args=(queued,))
    waiter.start()
    _wait_until(lambda: gate.waiting == 1, "a writer queued")
    gate.leave(held)
    waiter.join(WAIT)
    assert calls == ["free at once"]  # handed to the queued writer: not free yet
    gate.leave(queued)
    assert calls == ["free at once", "freed"] and not gate.busy


def test_free_turn_awaits_the_gate_without_taking_it() -> None:
    gate = WriteGate(timeout=WAIT)
    held: dict[str, bool] = {}
    th = threading.Thread(target=gate.enter, args=(held,))
    th.start()
    th.join(WAIT)

    async def scenario() -> tuple[bool, bool]:
        waiting = asyncio.create_task(free_turn(gate, WAIT))
        await asyncio.sleep(0)
        still = not waiting.done()
        threading.Thread(target=gate.leave, args=(held,)).start()
        return still, await waiting

    assert asyncio.run(scenario()) == (True, True)
    assert not gate.busy  # announced, not taken
    gate.enter(held)
    assert asyncio.run(free_turn(gate, 0.01)) is False  # gave up; its callback dropped
    assert gate._when_free == []
    gate.leave(held)


def test_a_write_that_must_not_wait_is_refused_while_another_process_writes(
    engine: Engine,
) -> None:
    gate = gate_of(engine)
    assert gate is not None
    path = engine.url.database
    assert path
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(WouldWait) as refused, transaction(engine, wait=False) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not refused.value.here  # another process's lock: nothing here announces it
        assert not gate.busy  # the refused try gave its turn back
        other.execute("COMMIT")
    finally:
        other.close()
    with transaction(engine, wait=False) as conn:
        assert gate.busy
        conn.execute(text("INSERT INTO t VALUES (2)"))
        # the connection's busy timeout is back for the rest of the transaction
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == SQLITE_BUSY_TIMEOUT_MS
    assert not gate.busy
    with read_transaction(engine) as reader:
        assert reader.execute(text("SELECT x FROM t")).scalars().all() == [2]


def test_a_write_that_must_not_wait_is_refused_while_this_process_writes(
    engine: Engine,
) -> None:
    gate = gate_of(engine)
    assert gate is not None
    holder: dict[str, bool] = {}
    th = threading.Thread(target=gate.enter, args=(holder,))
    th.start()
    th.join(WAIT)
    with pytest.raises(WouldWait) as refused, transaction(engine, wait=False):
        pass
    assert refused.value.here  # this process's own writer: a wait that when_free ends
    assert gate.busy and gate.waiting == 0  # still the holder's; nobody queued
    gate.leave(holder)
    with transaction(engine, wait=False) as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))


def test_an_in_memory_database_never_promises_not_to_wait() -> None:
    memory = create_engine_for("sqlite://")
    try:
        with pytest.raises(WouldWait), transaction(memory, wait=False):
            pass
    finally:
        memory.dispose()


def test_a_write_that_did_not_wait_leaves_its_checkpoint_to_a_thread(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its COMMIT must not copy the WAL back (an fsync, on the event loop): the connection's
    automatic checkpoint is off for that transaction only, and every few such writes a
    thread of its own checkpoints."""
    ran: list[str] = []
    real = BackgroundCheckpoints.checkpoint

    def spy(self: BackgroundCheckpoints) -> None:
        real(self)
        ran.append(threading.current_thread().name)

    monkeypatch.setattr(checkpoints, "EVERY", 3)
    monkeypatch.setattr(BackgroundCheckpoints, "checkpoint", spy)
    for n in range(3):
        with transaction(engine, wait=False) as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
            conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        with transaction(engine) as conn:  # the same pooled connection: back to SQLite's
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
            assert pages == checkpoints.AUTOCHECKPOINT_PAGES
    _wait_until(lambda: ran, "a background checkpoint")
    assert ran == ["selfiam-checkpoint"]
    with pytest.raises(ZeroDivisionError), transaction(engine, wait=False) as conn:
        _ = 1 / 0
    with transaction(engine) as conn:  # a rollback gives it back too
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 1000
