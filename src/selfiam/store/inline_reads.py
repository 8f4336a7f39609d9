"""Whether cheap reads may run on the event loop: decided by measuring the database.

A read run inline on the event loop saves the hand-off to a worker thread and back
(measured: 0.14 ms of CPU on an idle machine, about 0.5 ms per request under load), but
every other request waits while its queries travel to the database. On SQLite a query
costs microseconds: reads always run inline. On PostgreSQL it depends on where the
server is: on the same host a query's round trip is about 0.12 ms (median, TCP on
localhost); across a network it is several times the hop, and the loop would stall.

So in ``auto`` mode (the default) two measurements decide:

* To start running reads inline: the change feed's heartbeat (``invalidation.HEARTBEAT``),
  a NOTIFY that travels to the database and back. The *lowest* of the last ``SAMPLES``
  must be under ``NEAR`` (scheduling only ever adds to a round trip: under load its
  median is several times its floor), or the database is not on this host.
* To go on: the loop's own inline reads, how long each stalled the loop waiting (wall
  time minus the thread's CPU time: the database's answers, and the GIL when another
  thread held it, and the OS when it ran another process). The shortest of the last
  ``SAMPLES`` must stay under ``WAIT_LIMIT``: as for the heartbeat, the noise only adds
  (on a 2-core machine shared with the load generator and other benchmarks the median
  reached 1.3 to 1.9 ms, the lower quartile 1 ms at times, the shortest stayed near
  0.1 ms), while a database 1 ms away makes every read wait at least 1 ms. And no single
  read may stall the loop ``SLOW_READ``. Either sends reads to
  the threadpool for ``BACKOFF`` seconds, after which the heartbeat decides again. The
  heartbeat no longer counts meanwhile: with every read on the loop, its listener thread
  waits for the GIL, and its floor rose to 4.7 ms on a 2-core machine at 8 clients.

``always`` ignores the measurements, ``never`` sends every read to the threadpool
(``selfiam serve --inline-reads``, or ``$SELFIAM_INLINE_READS``). Whatever the mode, a
read runs inline only if nothing but its own queries can make it wait:
``HeldReadConnection.ready`` (no pool checkout, no connect, no ping) and the runtime's own
checks (the change feed up, the audit queue far from full).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

MODES = ("auto", "always", "never")
ENV = "SELFIAM_INLINE_READS"
#: Lowest heartbeat round trip (seconds) of a database on the same host: measured 0.4 to
#: 0.9 ms on localhost (a NOTIFY commits), 2 ms is a network away.
NEAR = 0.002
#: Shortest recent stall of the loop (seconds) per inline read: about twice the CPU a
#: threadpool hop costs under load; measured 0.05 to 0.2 ms on localhost at 8 clients.
WAIT_LIMIT = 0.001
#: One inline read stalling the loop this long (seconds) sends reads to the threadpool
#: for ``BACKOFF`` seconds. Short: on a machine shared with other busy processes, the OS
#: alone stalls the loop that long at times (the database then still measures near, and
#: reads come back inline); a database really slow costs one such stall per backoff.
SLOW_READ = 0.05
BACKOFF = 2.0
#: Samples of each kind remembered (heartbeats: 4 per second).
SAMPLES = 16


def mode_from_env() -> str:
    mode = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"{ENV}={mode!r}: expected one of {', '.join(MODES)}")
    return mode


class InlineReads:
    """The measurements behind the decision; thread-safe (heartbeats come from the change
    feed's listener, inline reads from the event loop)."""

    def __init__(self, mode: str | None = None) -> None:
        if mode is None:
            mode = mode_from_env()
        elif mode not in MODES:
            raise ValueError(f"inline reads: unknown mode {mode!r}")
        self.mode = mode
        self._trips: deque[float] = deque(maxlen=SAMPLES)
        self._floor: float | None = None
        self._waits: deque[float] = deque(maxlen=SAMPLES)
        self._hop_until = 0.0
        self._inline = False  # auto: reads run inline now (until a backoff)
        self._lock = threading.Lock()

    def allows(self) -> bool:
        """Whether the measurements (or the forced mode) allow reads on the loop."""
        if self.mode != "auto":
            return self.mode == "always"
        if self._inline:
            return True
        floor = self._floor
        if floor is None or floor >= NEAR or time.monotonic() < self._hop_until:
            return False
        self._inline = True
        return True

    def round_trip(self, seconds: float) -> None:
        """A heartbeat's round trip to the database took ``seconds``."""
        with self._lock:
            self._trips.append(seconds)
            self._floor = min(self._trips)

    def inline_read(self, wall: float, cpu: float) -> None:
        """An inline read transaction took ``wall`` seconds, ``cpu`` of them computing."""
        waited = max(0.0, wall - cpu)
        with self._lock:
            waits = self._waits
            waits.append(waited)
            if waited > SLOW_READ or (
                len(waits) == SAMPLES and min(waits) > WAIT_LIMIT
            ):
                self._hop_until = time.monotonic() + BACKOFF
                self._inline = False
                self._trips.clear()
                self._floor = None
                waits.clear()

    def floor(self) -> float | None:
        """The lowest recent heartbeat round trip (seconds), None before the first."""
        return self._floor
