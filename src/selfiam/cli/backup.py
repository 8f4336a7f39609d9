"""``selfiam backup FILE`` and ``selfiam restore FILE`` (SQLite; PostgreSQL: pg_dump)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from selfiam.cli.options import database_options, settings_from
from selfiam.cli.printable import echo, printable
from selfiam.service.backup import BackupError, backup_sqlite, restore_sqlite, sqlite_path
from selfiam.settings import Settings

KEY_NOTE = (
    "The backup holds every secret sealed under the master key ({key}), which it does NOT "
    "contain: without that key it cannot be used. Back the key up apart from the database "
    "(whoever holds both holds every secret)."
)

POSTGRES_HELP = """\
selfiam does not copy a PostgreSQL database itself; use PostgreSQL's own tools:
  back up:   pg_dump --format=custom --file=selfiam.dump "$DATABASE"
  restore:   stop every selfiam node, then
             pg_restore --clean --if-exists --no-owner --dbname="$DATABASE" selfiam.dump
(DATABASE is the libpq form of --database-url, without '+psycopg').
pg_dump takes a consistent snapshot while the nodes run."""


def _postgres(settings: Settings) -> None:
    echo(POSTGRES_HELP)
    echo(KEY_NOTE.format(key=printable(settings.master_key_file)))
    raise SystemExit(2)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@database_options
def backup(file: Path, data_dir: str | None, database_url: str | None) -> None:
    """Copy the SQLite database to the NEW file FILE, consistently, while servers run."""
    settings = settings_from(data_dir, database_url)
    if not settings.is_sqlite:
        _postgres(settings)
    try:
        size = backup_sqlite(sqlite_path(settings.database_url), file)
    except BackupError as err:
        raise click.ClickException(printable(err)) from None
    echo(f"backed up {size} bytes to {printable(file)} (mode 0600).")
    echo(KEY_NOTE.format(key=printable(settings.master_key_file)))


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_options
def restore(file: Path, data_dir: str | None, database_url: str | None) -> None:
    """Replace the database of a STOPPED data directory with the backup FILE.

    Refused while a server runs on the data directory (it holds serve.lock), for a file
    that is not a sound selfiam database, and when the data directory's master key does
    not open the backup's secrets. The database replaced is kept, renamed.
    """
    settings = settings_from(data_dir, database_url)
    if not settings.is_sqlite:
        _postgres(settings)
    try:
        done = restore_sqlite(
            file,
            sqlite_path(settings.database_url),
            settings.data_dir,
            settings.master_key_file,
            datetime.now(UTC),
        )
    except BackupError as err:
        raise click.ClickException(printable(err)) from None
    echo(f"restored {printable(file)} into {printable(done.database)}.")
    if done.previous is not None:
        echo(f"the database it replaced is kept as {printable(done.previous)}.")
