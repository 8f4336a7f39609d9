"""Fixtures shared by every suite.

* ``sqlite_url`` — a SQLite file database in the test's tmp dir (empty).
* ``postgres_url`` — a fresh, empty PostgreSQL database, dropped afterwards
  (skipped if the server is unreachable, unless SELFIAM_TEST_POSTGRES=required).
* ``backend`` — ``"sqlite"`` or ``"postgresql"``: a test using any of the
  fixtures below runs once on each.
* ``db_url`` — an empty database of ``backend``.
* ``migrated_url`` — a database of ``backend`` with the schema at head (a
  different database from ``db_url``). PostgreSQL ones are copied from a
  template migrated once per session.
* ``migrated_engine`` — an engine for ``migrated_url``, disposed afterwards.
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


@pytest.fixture(scope="session")
def postgres_template_url() -> Iterator[str]:
    """A PostgreSQL database migrated to head, to copy; never connect to it."""
    with fresh_database() as url:
        upgrade_to_head(url)  # disposes its engine: a template must be idle
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{'sqlite' if backend == 'sqlite' else 'postgres'}_url"))


@pytest.fixture
def migrated_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        url = str(request.getfixturevalue("sqlite_url"))
        upgrade_to_head(url)
        yield url
        return
    with fresh_database(template=request.getfixturevalue("postgres_template_url")) as url:
        yield url


@pytest.fixture
def migrated_engine(migrated_url: str) -> Iterator[Engine]:
    engine = create_engine_for(migrated_url)
    try:
        yield engine
    finally:
        engine.dispose()
