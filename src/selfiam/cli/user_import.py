"""``selfiam user import FILE``: create many users, each all-or-nothing, as the account's root.

Each user is CreateUser (path, tags), AddUserToGroup per group and CreateLoginProfile with
a generated one-time password, run together through ``service/together.py``: the same
handlers, authorization and audit records as the API, in one transaction per user, so a
refused step (an unknown group, a taken name) leaves nothing of that user behind. A
failing user is reported and the import goes on. The passwords go to a NEW file of mode
0600 (never printed, never overwritten), one ``name,password`` line per user, written as
soon as the user is committed so that an interruption loses no password.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import click

from selfiam.cli.import_file import ImportEntry, read_entries
from selfiam.cli.options import database_options, settings_from
from selfiam.cli.printable import echo, printable
from selfiam.cli.root import RootSession
from selfiam.service.passwords import temporary_password
from selfiam.service.prehashed import PrehashingHasher
from selfiam.tooling.onboard import create_secret_file


def _open_new_private(path: Path) -> IO[str]:
    try:
        return create_secret_file(str(path))
    except FileExistsError:
        raise click.ClickException(f"{printable(path)} exists; refusing to overwrite it.") from None
    except OSError as exc:
        raise click.ClickException(f"cannot create {printable(path)}: {exc.strerror}") from None


def _steps(entry: ImportEntry, password: str | None) -> list[tuple[str, dict[str, Any]]]:
    params: dict[str, Any] = {"UserName": entry.name}
    if entry.path:
        params["Path"] = entry.path
    if entry.tags:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in entry.tags]
    steps: list[tuple[str, dict[str, Any]]] = [("CreateUser", params)]
    steps += [("AddUserToGroup", {"GroupName": g, "UserName": entry.name}) for g in entry.groups]
    if password is not None:
        login = {"UserName": entry.name, "Password": password, "PasswordResetRequired": True}
        steps.append(("CreateLoginProfile", login))
    return steps


class _Importer:
    """Creates the entries in order while the pool hashes the next passwords."""

    #: Passwords hashed ahead of the user being created: enough to keep every core busy,
    #: few enough that an interrupted import has not generated thousands of passwords.
    AHEAD_PER_WORKER = 4

    def __init__(self, session: RootSession, entries: Sequence[ImportEntry]) -> None:
        self.session = session
        self.entries = entries
        workers = os.cpu_count() or 1
        self.hasher = PrehashingHasher(session.runtime.hasher, workers)
        session.runtime.hasher = self.hasher
        self.ahead = workers * self.AHEAD_PER_WORKER
        self.passwords: dict[int, str] = {}
        self.announced = 0

    def _announce_until(self, index: int) -> None:
        while self.announced < min(index, len(self.entries)):
            entry = self.entries[self.announced]
            if entry.problem is None and entry.password:
                password = temporary_password(
                    self.session.runtime, self.session.account_id, entry.name
                )
                self.passwords[self.announced] = password
                self.hasher.announce(password)
            self.announced += 1

    def create(self, index: int) -> str | None:
        """Create entry ``index``; its password (if any), or raise ClickException."""
        self._announce_until(index + 1 + self.ahead)
        entry = self.entries[index]
        if entry.problem is not None:
            raise click.ClickException(f"ValidationError: {entry.problem}")
        password = self.passwords.pop(index, None)
        try:
            self.session.call_together(*_steps(entry, password))
        except click.ClickException:
            if password is not None:
                self.hasher.forget(password)
            raise
        return password

    def close(self) -> None:
        self.hasher.close()


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--passwords-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="New file (mode 0600) for the one-time passwords; default FILE's name "
    "with .passwords.csv. Never overwritten.",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@database_options
def import_users(
    file: Path,
    passwords_file: Path | None,
    progress: bool,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Create the users listed in FILE (CSV, or JSON when it ends in .json).

    Columns/keys: name, path, groups (CSV: a;b), tags (CSV: k=v;k2=v2), password (yes/no,
    default yes). Each user is created whole or not at all; errors are reported per user
    and the import goes on (exit status 1 if any user failed).
    """
    try:
        entries = list(read_entries(file))
    except (ValueError, UnicodeDecodeError) as err:
        raise click.ClickException(f"{printable(file)}: {printable(err)}") from None
    target = passwords_file or file.with_name(file.stem + ".passwords.csv")
    wants_passwords = any(e.password and e.problem is None for e in entries)
    if wants_passwords and target.exists():
        raise click.ClickException(f"{printable(target)} exists; refusing to overwrite it.")
    session = RootSession.open(settings_from(data_dir, database_url))
    out = _open_new_private(target) if wants_passwords else None
    importer = _Importer(session, entries)
    failures = created = 0
    try:
        writer = csv.writer(out) if out is not None else None
        if writer is not None:
            writer.writerow(["name", "password"])
        for index in _progress(len(entries), progress):
            entry = entries[index]
            try:
                password = importer.create(index)
            except click.ClickException as err:
                failures += 1
                echo(f"{entry.line}: {printable(entry.name)}: {err.message}", err=True)
                continue
            created += 1
            if writer is not None and out is not None and password is not None:
                writer.writerow([entry.name, password])
                out.flush()
    finally:
        importer.close()
        if out is not None:
            out.close()
    where = f"; one-time passwords in {printable(target)}" if out is not None else ""
    echo(f"created {created} of {len(entries)} users{where}")
    if failures:
        raise SystemExit(1)


def _progress(total: int, shown: bool) -> Any:
    if not shown:
        return range(total)
    from rich.console import Console
    from rich.progress import track

    console = Console(stderr=True)
    return track(range(total), "importing users", total=total, console=console, transient=True)
