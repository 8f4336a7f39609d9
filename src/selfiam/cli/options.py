"""Options shared by the commands that open the local database."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from selfiam.service.factory import open_runtime
from selfiam.settings import Settings

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime

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


def open_for_command(settings: Settings) -> Runtime:
    """``open_runtime`` for one command: its change-feed listener (PostgreSQL) stops when
    the command ends, so a command run in-process (tests, tools) leaves no thread behind
    retrying a database that may be gone."""
    runtime = open_runtime(settings)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(runtime.close)
    return runtime
