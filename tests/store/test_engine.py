"""Engine set-up: SQLite pragmas and write serialization, PostgreSQL driver."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from selfiam.store.engine import (
    HeldReadConnection,
    create_engine_for,
    is_read_only,
    normalize_url,
    read_transaction,
    transaction,
)
from selfiam.store.write_gate import WouldWait


@pytest.mark.parametrize(
    "url", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"]
)
def test_postgres_urls_use_psycopg3(url: str) -> None:
    assert normalize_url(url).drivername == "postgresql+psycopg"


def test_unsupported_backend() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        create_engine_for("mysql://u@h/db")


def test_sqlite_pragmas_and_data_dir(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path}/new/dir/selfiam.db")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert (tmp_path / "new" / "dir" / "selfiam.db").exists()
    finally:
        engine.dispose()


def test_a_new_database_switches_to_wal_once_a_writer_lets_go(tmp_path: Path) -> None:
    """Another process holds the write lock of a new database (still in rollback-journal
    mode): SQLite refuses the switch to WAL at once, without its busy handler. The
    connection tries again until the lock is released (several workers starting on one
    new data directory), instead of failing with "database is locked"."""
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (a)")
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        release.join()
        engine.dispose()
        other.close()


def test_sqlite_in_memory_works() -> None:
    engine = create_engine_for("sqlite://")
    with transaction(engine) as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_transaction_rolls_back_on_error(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        with transaction(engine) as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with pytest.raises(RuntimeError), transaction(engine) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError
        with read_transaction(engine) as conn:
            assert is_read_only(conn)
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
        with transaction(engine) as conn:
            assert not is_read_only(conn)
    finally:
        engine.dispose()


def test_postgresql_never_promises_a_write_without_waiting(postgres_url: str) -> None:
    """Every PostgreSQL statement waits for the network (and a write for row locks): a
    write asked not to wait is refused before it takes a connection. (The seam for a
    future "try without waiting" there: store/engine.py's ``transaction``.)"""
    engine = create_engine_for(postgres_url)
    try:
        with pytest.raises(WouldWait), transaction(engine, wait=False):
            pass
        assert engine.pool.checkedout() == 0
    finally:
        engine.dispose()


def test_pooled_connection_forgets_read_only(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url, pool_size=1)
    try:
        with read_transaction(engine):
            pass
        with transaction(engine) as conn:
            assert not is_read_only(conn)
    finally:
        engine.dispose()


def _sqlite_increments(engine: Engine, threads: int, rounds: int) -> list[BaseException]:
    """Read-modify-write from many threads: lost updates or 'database is
    locked' errors would show if writers did not serialize."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                with transaction(engine) as conn:
                    n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                    time.sleep(0.001)
                    conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    return errors


def test_sqlite_writers_serialize(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        with transaction(engine) as conn:
            conn.execute(text("CREATE TABLE counter (n INTEGER)"))
            conn.execute(text("INSERT INTO counter VALUES (0)"))
        assert _sqlite_increments(engine, threads=8, rounds=10) == []
        with read_transaction(engine) as conn:
            assert conn.execute(text("SELECT n FROM counter")).scalar_one() == 80
    finally:
        engine.dispose()


def test_sqlite_readers_do_not_wait_for_a_writer(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        with transaction(engine) as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        with transaction(engine) as writer:
            writer.execute(text("UPDATE t SET x = 2"))
            start = time.monotonic()
            with read_transaction(engine) as reader:
                assert reader.execute(text("SELECT x FROM t")).scalar_one() == 1
            assert time.monotonic() - start < 1
    finally:
        engine.dispose()


def test_held_read_connections_are_bounded(tmp_path: Path) -> None:
    """Threadpool workers that ran a read (the API's heavy reads) do not each keep a
    connection: before, 40 workers pinned a pool of 30, and every write and the audit
    writer waited for a connection until the pool's timeout (found by the model-valid
    input property test: GetContextKeysForCustomPolicy, 120 examples)."""
    engine = create_engine_for(f"sqlite:///{tmp_path}/held.db")
    reads = HeldReadConnection(engine)
    workers = 12
    done = threading.Barrier(workers + 1)
    leave = threading.Barrier(workers + 1)

    def read() -> None:
        with reads.transaction() as conn:
            conn.exec_driver_sql("SELECT 1")
        done.wait()
        leave.wait()  # stay alive, as a threadpool worker does

    threads = [threading.Thread(target=read) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        done.wait()
        assert engine.pool.checkedout() <= 4  # HeldReadConnection.MAX_HELD, not 12
    finally:
        leave.wait()
        for thread in threads:
            thread.join()
        engine.dispose()


def test_a_finished_thread_gives_back_its_held_connection(tmp_path: Path) -> None:
    """The threadpool retires idle workers: a retired worker's place among the holders is
    freed and its connection returned to the pool, so later threads may hold one."""
    engine = create_engine_for(f"sqlite:///{tmp_path}/retired.db")
    reads = HeldReadConnection(engine)

    def read() -> None:
        with reads.transaction() as conn:
            conn.exec_driver_sql("SELECT 1")

    try:
        for _ in range(3 * HeldReadConnection.MAX_HELD):  # more threads than places, in turn
            thread = threading.Thread(target=read)
            thread.start()
            thread.join()
            gc.collect()
            assert engine.pool.checkedout() == 0
        assert reads._held == 0
    finally:
        engine.dispose()
