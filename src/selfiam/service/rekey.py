"""Master-key rotation (``selfiam rotate-master-key``): every sealed secret re-sealed.

The rotation moves through states the key files record, so that an interruption at any
point is resumed by running the command again:

1. ``master.key.next`` is created with a new key. From then on every box that follows
   the key file (each server re-reads the files when they change) seals under the new
   key and opens with both.
2. Every sealed column (``SEALED``) is walked in keyset batches, each in its own short
   transaction: a blob that does not open under the new key is opened (old key),
   sealed under the new key and written back only if the row still holds the blob that
   was read (a concurrent change wins; the next pass sees it). Re-sealing is
   idempotent: a blob already under the new key is left alone.
3. The old key is copied to ``master.key.old`` and ``master.key.next`` renamed over
   ``master.key`` (one atomic rename).
4. A last pass re-seals what a server sealed under the old key before it noticed the
   new one, with both keys in hand; then ``master.key.old`` is deleted. A blob no key
   opens stops the rotation before the old key is removed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Table, select

from selfiam.auth.secretbox import (
    SecretBox,
    SecretBoxError,
    next_key_file,
    read_key_file,
    write_new_key_file,
)
from selfiam.service.portal_sessions import pending_mfa_ad
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import transaction

BATCH = 500


@dataclass(frozen=True)
class SealedColumn:
    """A column of sealed blobs, the key its rows are walked by, and each blob's AD."""

    table: Table
    key: str
    blob: str
    associated_data: Callable[[Any], bytes]


def _by_key(name: str) -> Callable[[Any], bytes]:
    return lambda row: str(getattr(row, name)).encode()


SEALED = (
    SealedColumn(t.access_keys, "access_key_id", "secret_ciphertext", _by_key("access_key_id")),
    SealedColumn(t.mfa_devices, "serial_number", "seed_ciphertext", _by_key("serial_number")),
    SealedColumn(t.sts_sessions, "access_key_id", "secret_ciphertext", _by_key("access_key_id")),
    SealedColumn(t.role_sessions, "access_key_id", "secret_ciphertext", _by_key("access_key_id")),
    SealedColumn(
        t.federation_sessions, "access_key_id", "secret_ciphertext", _by_key("access_key_id")
    ),
    SealedColumn(t.outbound_signing_keys, "kid", "private_ciphertext", _by_key("kid")),
    SealedColumn(
        t.service_specific_credentials,
        "credential_id",
        "secret_ciphertext",
        _by_key("credential_id"),
    ),
    SealedColumn(
        t.server_certificates,
        "server_certificate_id",
        "private_key_ciphertext",
        _by_key("server_certificate_id"),
    ),
    SealedColumn(
        t.portal_sessions,
        "session_id",
        "pending_mfa_seed_ciphertext",
        lambda row: pending_mfa_ad(row.session_id, row.pending_mfa_serial),
    ),
)


@dataclass
class PassReport:
    resealed: dict[str, int] = field(default_factory=dict)
    #: "table key" of blobs that no key opens.
    unreadable: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.resealed.values())


def reseal_column(
    runtime: Runtime, box: SecretBox, column: SealedColumn, report: PassReport
) -> None:
    table = column.table
    key: Column[Any] = table.c[column.key]
    blob: Column[Any] = table.c[column.blob]
    extra = [table.c.pending_mfa_serial] if table is t.portal_sessions else []
    after: Any = None
    while True:
        query = select(key, blob, *extra).where(blob.is_not(None)).order_by(key).limit(BATCH)
        if after is not None:
            query = query.where(key > after)
        with transaction(runtime.engine) as conn:
            rows = conn.execute(query).all()
            for row in rows:
                ad = column.associated_data(row)
                sealed = getattr(row, column.blob)
                if box.opens_with_current(sealed, ad):
                    continue
                try:
                    fresh = box.seal(box.open(sealed, ad), ad)
                except SecretBoxError:
                    report.unreadable.append(f"{table.name} {getattr(row, column.key)}")
                    continue
                done = conn.execute(
                    table.update()
                    .where(key == getattr(row, column.key), blob == sealed)
                    .values({column.blob: fresh})
                )
                if done.rowcount:
                    report.resealed[table.name] = report.resealed.get(table.name, 0) + 1
        if len(rows) < BATCH:
            return
        after = getattr(rows[-1], column.key)


def reseal_all(runtime: Runtime, box: SecretBox) -> PassReport:
    """Re-seal every sealed blob that ``box`` can open under its current key."""
    report = PassReport()
    for column in SEALED:
        reseal_column(runtime, box, column, report)
    return report


def old_key_file(path: Path) -> Path:
    return path.with_name(path.name + ".old")


@dataclass
class Rotation:
    started: bool  # a new rotation (False: an interrupted one resumed)
    passes: list[PassReport]
    finished: bool


def rotate_master_key(runtime: Runtime, key_file: Path) -> Rotation:
    """Run (or resume) the rotation of ``key_file``; see the module's docstring."""
    upcoming, old = next_key_file(key_file), old_key_file(key_file)
    started = False
    passes: list[PassReport] = []
    if not upcoming.exists() and not old.exists():
        started = write_new_key_file(upcoming, SecretBox.generate_key())
    if upcoming.exists():
        current = read_key_file(key_file)
        box = SecretBox(read_key_file(upcoming), [current])
        passes.append(reseal_all(runtime, box))
        if passes[-1].unreadable:
            return Rotation(started, passes, finished=False)
        if not write_new_key_file(old, current) and read_key_file(old) != current:
            raise SecretBoxError(f"{old} holds another key than {key_file}; resolve by hand")
        os.replace(upcoming, key_file)
    final = SecretBox(read_key_file(key_file), [read_key_file(old)])
    passes.append(reseal_all(runtime, final))
    if passes[-1].unreadable:
        return Rotation(started, passes, finished=False)
    old.unlink()
    runtime.box.refresh()
    return Rotation(started, passes, finished=True)
