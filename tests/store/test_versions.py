"""The auth change counter (DESIGN rule 7)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from selfiam.store.engine import create_engine_for, read_transaction, transaction
from selfiam.store.versions import (
    Versions,
    bump_auth_version,
    bump_policy_version,
    bump_version,
    read_auth_version,
    read_version,
    read_versions,
)


def test_bump_and_read(migrated_engine: Engine) -> None:
    with read_transaction(migrated_engine) as conn:
        assert read_auth_version(conn) == 0
    with transaction(migrated_engine) as conn:
        assert bump_auth_version(conn) == 1
        assert bump_auth_version(conn) == 2
    with read_transaction(migrated_engine) as conn:
        assert read_auth_version(conn) == 2


def test_both_counters_are_read_together(migrated_engine: Engine) -> None:
    with transaction(migrated_engine) as conn:
        bump_auth_version(conn)
        bump_auth_version(conn)
        bump_policy_version(conn)
    with read_transaction(migrated_engine) as conn:
        assert read_versions(conn) == Versions(auth=2, policy=1)


def test_rolled_back_bump_is_not_seen(migrated_engine: Engine) -> None:
    with pytest.raises(RuntimeError), transaction(migrated_engine) as conn:
        bump_auth_version(conn)
        raise RuntimeError("operation failed")
    with migrated_engine.connect() as conn:
        assert read_auth_version(conn) == 0


def test_other_counters_are_created_on_first_bump(migrated_engine: Engine) -> None:
    with transaction(migrated_engine) as conn:
        assert read_version(conn, "portal") == 0
        assert bump_version(conn, "portal") == 1
        assert bump_version(conn, "portal") == 2
        assert read_auth_version(conn) == 0


def test_a_change_through_one_engine_is_seen_by_another(db_url: str) -> None:
    """Two engines stand for two selfiam processes sharing one database."""
    first, second = create_engine_for(db_url), create_engine_for(db_url)
    try:
        from selfiam.store.migrate import upgrade_to_head

        upgrade_to_head(first)
        with second.connect() as conn:
            seen = read_auth_version(conn)
        with transaction(first) as conn:
            bump_auth_version(conn)
        with second.connect() as conn:
            assert read_auth_version(conn) == seen + 1
    finally:
        first.dispose()
        second.dispose()


def test_concurrent_bumps_are_all_counted(migrated_engine: Engine) -> None:
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                with transaction(migrated_engine) as conn:
                    bump_auth_version(conn)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    with migrated_engine.connect() as conn:
        assert read_auth_version(conn) == n * 5
