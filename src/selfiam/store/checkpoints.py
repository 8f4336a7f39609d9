"""SQLite: the WAL checkpoints of writes run on the event loop happen in a thread instead.

SQLite copies the WAL back into the database (a checkpoint) in the connection whose
COMMIT took the WAL past ``wal_autocheckpoint`` pages (1,000: about every hundred light
writes). That copy and its fsync took about 40 ms on the machine the benchmarks run on:
harmless in a worker thread (sqlite3 releases the GIL while it runs), but a write run on
the event loop (``transaction(engine, wait=False)``) would stall every other request for
as long. So such a transaction turns its connection's automatic checkpoint off until its
end, and every ``EVERY`` of them a short-lived thread runs a PASSIVE checkpoint on a
connection of its own (PASSIVE: it waits for no reader and no writer, and copies what it
can). Other writes (the threadpool's, the audit writer's, another process's) still
checkpoint as SQLite does by itself.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

#: SQLite's default ``wal_autocheckpoint`` (pages), which selfiam's engines keep.
AUTOCHECKPOINT_PAGES = 1000
#: Writes without their own checkpoint between two background ones (a light write adds
#: a few to a dozen pages to the WAL: well under ``AUTOCHECKPOINT_PAGES``).
EVERY = 64


class BackgroundCheckpoints:
    """Counts one engine's transactions that left their checkpoint to a thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._deferred = 0
        self._running = threading.Lock()

    @staticmethod
    def defer(driver: Any) -> None:
        """In a transaction just begun: its COMMIT must not checkpoint."""
        driver.execute("PRAGMA wal_autocheckpoint = 0")

    def ended(self, driver: Any) -> None:
        """After that transaction's COMMIT or ROLLBACK: automatic checkpoints are back for
        the connection's next transaction, and every ``EVERY`` a thread checkpoints."""
        driver.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        self._deferred += 1
        if self._deferred < EVERY or self._running.locked():
            return
        self._deferred = 0
        threading.Thread(target=self.checkpoint, name="selfiam-checkpoint", daemon=True).start()

    def checkpoint(self) -> None:
        """One PASSIVE checkpoint (skipped if one of these runs already)."""
        if not self._running.acquire(blocking=False):
            return
        try:
            engine = self._engine()
            if engine is None:
                return
            with engine.connect() as conn:
                driver = conn.connection.driver_connection
                assert driver is not None
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # noqa: BLE001 (the next one, or SQLite's own, catches up)
            log.warning("a background WAL checkpoint failed", exc_info=True)
        finally:
            self._running.release()
