"""Audit retention (``selfiam serve --audit-retention-days N``): old records pruned in the
background, in small batches.

Each batch deletes at most ``BATCH`` of the oldest records older than the cutoff, in its
own short transaction, so it never holds SQLite's write lock (or many PostgreSQL row
locks) for long; between batches the pruner yields the lock to the requests. Several
processes may prune at once: a record is deleted once, whoever gets to it. Without the
option nothing is pruned, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select

from selfiam.store import tables as t
from selfiam.store.engine import transaction

log = logging.getLogger(__name__)

BATCH = 1_000
#: Seconds between two passes over the trail, and between two batches of one pass.
PASS_INTERVAL = 600.0
BATCH_PAUSE = 0.05


def prune_batch(engine: Engine, before: datetime, limit: int = BATCH) -> int:
    """Delete up to ``limit`` of the oldest records made before ``before``; how many."""
    ar = t.audit_records
    oldest = select(ar.c.id).where(ar.c.at < before).order_by(ar.c.id).limit(limit)
    with transaction(engine) as conn:
        ids = list(conn.execute(oldest).scalars())
        if ids:
            conn.execute(delete(ar).where(ar.c.id.in_(ids)))
    return len(ids)


def prune(
    engine: Engine,
    before: datetime,
    limit: int = BATCH,
    pause: Callable[[], object] = lambda: None,
) -> int:
    """Prune every record made before ``before``, batch by batch; how many in all."""
    total = 0
    while True:
        done = prune_batch(engine, before, limit)
        total += done
        if done < limit:
            return total
        pause()


class AuditPruner:
    """A daemon thread pruning records older than ``days`` every ``PASS_INTERVAL``."""

    def __init__(self, engine: Engine, days: int, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.keep = timedelta(days=days)
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="selfiam-audit-prune", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def run_once(self) -> int:
        return prune(self.engine, self.clock() - self.keep, pause=self._pause)

    def _pause(self) -> None:
        self._stop.wait(BATCH_PAUSE)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                removed = self.run_once()
                if removed:
                    log.info("pruned %d audit records older than %s", removed, self.keep)
            except Exception:  # the server keeps serving; the next pass tries again
                log.exception("could not prune the audit trail")
            self._stop.wait(PASS_INTERVAL)
