"""Backing up and restoring a SQLite data directory.

A backup is taken with SQLite's online backup API while servers run: it copies a
consistent snapshot page by page (a writer committing meanwhile makes SQLite restart the
copy of what changed), never a half-written transaction, unlike copying the file.

Sealed secrets (access-key secrets, session secrets, TOTP seeds) are in the backup
encrypted under the master key, which is NOT in it: a backup is useless without the key
file, and the key must be backed up apart from the database (whoever holds both holds
every secret).

A restore replaces the database of a data directory no server is using. ``selfiam
serve`` holds an exclusive ``flock`` on ``<data dir>/serve.lock`` as long as it runs
(the kernel drops it when the process ends, even killed); the restore takes the same lock
without waiting and refuses when it cannot. It also refuses a file that is not a sound
selfiam database, and a backup whose secrets the data directory's master key does not
open. The database it replaces is kept beside it, renamed, never deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from selfiam.auth.secretbox import MasterKeyError, SecretBox, SecretBoxError

SERVE_LOCK = "serve.lock"
#: Pages copied per step of the online backup: a step holds the source's read lock only
#: that long, so writers are never held up for the whole copy.
PAGES_PER_STEP = 256


class BackupError(Exception):
    """The backup or restore was refused; nothing was changed."""


def sqlite_path(database_url: str) -> Path:
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise BackupError("not a SQLite file database")
    return Path(database_url[len(prefix) :])


@contextlib.contextmanager
def serving(data_dir: Path) -> Iterator[None]:
    """Held by ``selfiam serve`` while it runs; a restore cannot take it meanwhile."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = _lock_file(data_dir)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BackupError(f"{data_dir} is being restored; try again when it is done") from None
    try:
        yield
    finally:
        handle.close()


def _lock_file(data_dir: Path) -> IO[bytes]:
    fd = os.open(data_dir / SERVE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    return os.fdopen(fd, "r+b")


def backup_sqlite(database: Path, target: Path) -> int:
    """Copy ``database`` to the NEW file ``target`` (mode 0600); its size in bytes."""
    if target.exists():
        raise BackupError(f"{target} exists; refusing to overwrite it")
    if not database.exists():
        raise BackupError(f"{database} does not exist")
    partial = _new_private_file(target, "partial")
    try:
        _copy_database(database, partial, pages=PAGES_PER_STEP)
        try:
            os.link(partial, target)  # fails if the target appeared meanwhile
        except FileExistsError:
            raise BackupError(f"{target} exists; refusing to overwrite it") from None
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


@dataclass(frozen=True)
class Restored:
    database: Path
    previous: Path | None


def restore_sqlite(
    backup: Path, database: Path, data_dir: Path, master_key_file: Path, now: datetime
) -> Restored:
    """Put ``backup`` in place of ``database``; no server may be serving ``data_dir``."""
    _check_backup(backup, master_key_file)
    data_dir.mkdir(parents=True, exist_ok=True)
    with _lock_file(data_dir) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"a selfiam server is running on {data_dir} (it holds {SERVE_LOCK}); stop it first"
            ) from None
        incoming = _new_private_file(database, "restoring")
        try:
            _copy_database(backup, incoming)
            previous = None
            if database.exists():
                previous = database.with_name(f"{database.name}.before-restore-{now:%Y%m%dT%H%M%S}")
                _checkpoint(database)
                os.replace(database, previous)
            for suffix in ("-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
            os.replace(incoming, database)
        finally:
            incoming.unlink(missing_ok=True)
    return Restored(database, previous)


def _new_private_file(beside: Path, kind: str) -> Path:
    """A new, empty, hidden file (mode 0600) next to ``beside``, with a random name."""
    path = beside.with_name(f".{beside.name}.{secrets.token_hex(6)}.{kind}")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def _copy_database(source: Path, target: Path, *, pages: int = -1) -> None:
    """Copy the SQLite database ``source`` (opened read-only) into ``target`` with
    SQLite's online backup, ``pages`` at a time (-1: all in one step)."""
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        reader.backup(copy, pages=pages)
    finally:
        copy.close()
        reader.close()


def _checkpoint(database: Path) -> None:
    """Fold the WAL into the file being set aside, so it is whole on its own."""
    conn = sqlite3.connect(database)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _check_backup(backup: Path, master_key_file: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise BackupError(f"{backup} is not a SQLite database: {err}") from None
    try:
        if conn.execute("PRAGMA quick_check").fetchone() != ("ok",):
            raise BackupError(f"{backup} fails SQLite's integrity check")
        conn.execute("SELECT version_num FROM alembic_version").fetchone()
        sealed = conn.execute(
            "SELECT access_key_id, secret_ciphertext FROM access_keys LIMIT 1"
        ).fetchone()
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{backup} is not a selfiam database: {err}") from None
    finally:
        conn.close()
    if sealed is None:
        return
    try:
        SecretBox.load(master_key_file).open(sealed[1], sealed[0].encode())
    except (MasterKeyError, SecretBoxError):
        raise BackupError(
            f"the master key {master_key_file} does not open the backup's secrets; "
            "put the key file that was in use when the backup was taken in place first"
        ) from None
