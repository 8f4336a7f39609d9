"""Throw-away PostgreSQL databases for tests.

Each test that needs PostgreSQL gets a database of its own, with a random
name, on the server at ``SELFIAM_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), dropped afterwards.

If the server cannot be reached the test is skipped with the reason shown —
unless ``SELFIAM_TEST_POSTGRES=required`` (as CI sets it), in which case it
fails: a green run must not hide that PostgreSQL was never tested.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_PREFIX = "selfiam_test_"


def admin_url() -> str:
    """The URL of a database on the test server we may connect to as admin."""
    return os.environ.get("SELFIAM_TEST_POSTGRES_URL") or DEFAULT_ADMIN_URL


def postgres_required() -> bool:
    return os.environ.get("SELFIAM_TEST_POSTGRES", "").lower() == "required"


def _libpq_url(url: str) -> str:
    """psycopg wants a plain ``postgresql://`` URI, without a SQLAlchemy driver."""
    u = make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def _admin_connect() -> psycopg.Connection:
    return psycopg.connect(_libpq_url(admin_url()), autocommit=True, connect_timeout=5)


def unavailable_reason() -> str | None:
    """None if the test server answers, else why not."""
    try:
        with _admin_connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {make_url(admin_url())!r} is unreachable: {exc}".strip()
    return None


def skip_or_fail(reason: str) -> None:
    """Skip (visibly) — or fail if PostgreSQL is required."""
    if postgres_required():
        pytest.fail(f"SELFIAM_TEST_POSTGRES=required but {reason}", pytrace=False)
    pytest.skip(reason)


def create_database(template: str | None = None) -> str:
    """Create a database with a random name; return its URL (libpq form).

    With ``template`` (the URL of another test database, which must have no
    open connections), the new database is a copy of it — much faster than
    migrating each test's database from scratch.
    """
    name = DB_PREFIX + secrets.token_hex(6)
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(make_url(template).database))
    with _admin_connect() as conn:
        conn.execute(statement)
    return make_url(_libpq_url(admin_url())).set(database=name).render_as_string(
        hide_password=False
    )


def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database`, even if still in use."""
    name = make_url(url).database
    if not name or not name.startswith(DB_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    with _admin_connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def fresh_database(template: str | None = None) -> Iterator[str]:
    """A new database's URL for the duration of the block (skips if no server):
    empty, or a copy of ``template``."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    url = create_database(template)
    try:
        yield url
    finally:
        drop_database(url)
