"""Run selfiam's Alembic migrations from code: no alembic.ini at runtime.

``upgrade_to_head`` is what ``selfiam init`` / ``selfiam serve`` call. It is
safe when several processes start at once: on PostgreSQL the whole upgrade
runs in one transaction holding an advisory lock, so the second process waits
and then finds the schema already at head; on SQLite the upgrade's
``BEGIN IMMEDIATE`` transaction serializes it the same way. DDL is
transactional on both backends, so a failed upgrade leaves nothing behind.

For developers: ``python -m selfiam.store.migrate revision -m "add x"``
autogenerates a new revision by diffing ``tables.metadata`` against a
scratch SQLite database at head; review and edit it before committing.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from selfiam.store.engine import create_engine_for

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Key of the PostgreSQL advisory lock held while migrating ("selfiam" in ASCII).
ADVISORY_LOCK_KEY = 0x73656C6669616D


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The revision the packaged migrations lead to."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(engine_or_url: Engine | str) -> None:
    """Bring the database's schema to the latest revision (idempotent)."""
    if isinstance(engine_or_url, str):
        engine = create_engine_for(engine_or_url)
        try:
            _upgrade(engine)
        finally:
            engine.dispose()
    else:
        _upgrade(engine_or_url)


def _upgrade(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        command.upgrade(alembic_config(conn), "head")


def _revision(message: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.db"
        upgrade_to_head(url)
        command.revision(alembic_config(url=url), message=message, autogenerate=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m selfiam.store.migrate")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upgrade", help="upgrade a database to head")
    up.add_argument("url")
    rev = sub.add_parser("revision", help="autogenerate a new revision (developers)")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "upgrade":
        upgrade_to_head(args.url)
    else:
        _revision(args.message)


if __name__ == "__main__":
    main()
