"""Fixtures shared by every suite.

* ``sqlite_url`` — a SQLite file database in the test's tmp dir (empty).
* ``postgres_url`` — a fresh, empty PostgreSQL database, dropped afterwards
  (skipped if the server is unreachable, unless SELFIAM_TEST_POSTGRES=required).
* ``db_url`` — parametrized over both: a test using it runs on each backend.
* ``migrated_engine`` — an engine for ``db_url`` with the schema at head.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from selfiam.store.engine import create_engine_for
from selfiam.store.migrate import upgrade_to_head
from support.postgres import fresh_database


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'selfiam.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def migrated_engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    upgrade_to_head(engine)
    try:
        yield engine
    finally:
        engine.dispose()
