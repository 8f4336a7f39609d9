"""Options shared by the commands that open the local database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from selfiam.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def database_options(fn: F) -> F:
    fn = click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Data directory (default ./.selfiam or $SELFIAM_DATA_DIR).",
    )(fn)
    fn = click.option(
        "--database-url",
        default=None,
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db "
        "(default: SQLite in the data directory).",
    )(fn)
    return fn


def settings_from(data_dir: str | None, database_url: str | None, **extra: Any) -> Settings:
    return Settings.from_env(data_dir=data_dir, database_url=database_url, **extra)
