"""When a cached entry may still be used: per-key invalidation from the change feed.

Each process's caches (callers by access key in ``authn.CredentialCache``, principals'
policies in ``Runtime.principal_policies``) stamp an entry with :meth:`Invalidation.stamp`
*before* loading it and list the change keys it depends on (``store/change_feed.py``: its
access key, its user, role, groups, managed policies). Applying a change raises those keys'
generation past every earlier stamp, so :meth:`Invalidation.fresh` refuses the entry; an
entry loaded while a change was being applied is refused too (its stamp is older), so a
load can never put back what an eviction removed. A write to user A leaves user B's
entries alone.

How changes arrive (DESIGN rule 7, "several processes, one truth"):

* **SQLite**: ``refresh(conn)`` reads the ``changes`` rows after the last one applied,
  at the start of each request, in its read transaction (one indexed query; the request
  sees the same snapshot as the rows). Exact, as the old counters were.
* **PostgreSQL**: no query per request. A background thread LISTENs
  (:class:`~selfiam.store.change_feed.FeedConnection`) and applies each committed change
  as it arrives. The guarantee, and why it holds:

  1. *Lease.* A process trusts its caches only while its listener is connected and has
     received, less than ``LEASE`` seconds after sending it, a heartbeat it sent itself
     (every ``HEARTBEAT`` seconds). PostgreSQL hands each listener the notifications in
     commit order, so when a heartbeat comes back every change committed before it has
     been received, and applied (one thread, in order). Otherwise (feed lost, PostgreSQL
     slow) every cache is stale: each request reads the database.
  2. *Catch-up.* After (re)connecting, the process LISTENs *first*, then forgets every
     entry, then waits for its heartbeat: a change committed while it was away is in the
     database its next loads read. No notification can be lost between disconnect and
     re-LISTEN, because nothing relies on one sent then.
  3. *The writer waits.* After committing, a write applies its changes locally, then
     waits until every other live process (one whose heartbeat it heard within
     ``LEASE``) acknowledged applying them, at most ``LEASE`` + ``MARGIN`` seconds. A
     process that did not acknowledge in that time has, by (1), stopped trusting its
     caches: its lease came from a heartbeat sent before the commit, now older than
     ``LEASE``. A listener younger than ``LEASE`` may not have heard yet a peer whose
     lease came from a heartbeat sent before it LISTENed: it waits for the nodes that
     PostgreSQL listed as listening right after its LISTEN too (one query per listening
     session, not per write; a peer that began to listen later is heard through its
     heartbeats). So when a write returns to its caller, every process either applied
     it or reads the database: the caller's next request, through any process, is
     decided on the change. Requests running *during* the write may see either state,
     as with any concurrent request. The cost is latency on writes only (one
     notification round trip with live peers; up to ``LEASE`` when a peer just died),
     never a query on reads. It assumes the processes' monotonic clocks run at the same
     rate (a ``MARGIN`` absorbs drift), not that they agree.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Engine

from selfiam.store import change_feed as feed
from selfiam.store import pool_health

log = logging.getLogger(__name__)

#: Seconds a process trusts its caches after sending a heartbeat that came back.
LEASE = 2.0
#: Seconds between heartbeats (several per lease, so a healthy feed never lapses).
HEARTBEAT = 0.25
#: Added to LEASE by a waiting writer: scheduling and clock-rate slack.
MARGIN = 0.25
#: Seconds between reconnection attempts after the feed was lost.
RECONNECT = 0.5
#: Where ``refresh`` leaves the stamp of a SQLite transaction's snapshot (Connection.info).
_STAMP = "selfiam_feed_stamp"
#: Per-key generations kept; past this the process forgets everything once and starts over.
MAX_GENERATIONS = 50_000


class _Wait:
    """A write of this process between its commit and its acknowledgements. The listener
    wakes only the write concerned (its echo, an acknowledgement of it), not every
    waiting write per notification."""

    __slots__ = ("echoed", "acked", "listening", "cond")

    def __init__(self, listening: int, lock: threading.Lock) -> None:
        self.echoed = False
        self.acked: set[str] = set()
        #: the listening session it was published under (0: none): only that one echoes it
        self.listening = listening
        self.cond = threading.Condition(lock)


class Invalidation:
    """A process's view of the change feed (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.postgres = feed.is_postgres(engine)
        self.node = uuid.uuid4().hex[:12]
        self._engine = engine
        self._epoch = 0
        self._generations: dict[str, int] = {}
        self._everything = 0  # generation of EVERYTHING
        self._credentials = 0  # generation of ALL_CREDENTIALS
        self._lock = threading.Lock()
        # SQLite: the last change row applied (a transaction's stamp is in conn.info).
        self._last_row: int | None = None
        # PostgreSQL: lease, peers, acknowledgements.
        self._lease_until = 0.0
        self._connected = False
        self._session = 0  # counts listening sessions; the current one's number
        self._connected_at = 0.0
        self._seq = 0
        self._waiting: dict[int, _Wait] = {}  # our writes in flight, by seq
        #: SQLite: our writes in flight, by seq: (first row id, last row id, their keys)
        self._own_rows: dict[int, tuple[int, int, list[str]]] = {}
        self._peers: dict[str, float] = {}  # node -> monotonic time its heartbeat came
        #: the other nodes listening when the current session began (``_listen``)
        self._listed: set[str] = set()
        self._feed: feed.FeedConnection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Told each heartbeat's round trip (seconds): ``store/inline_reads.py``.
        self.on_round_trip: Callable[[float], None] | None = None
        #: Loads, evictions and feed losses, for tests and benchmarks.
        self.applied = 0
        self.resets = 0

    # -- the caches' side ------------------------------------------------------------------

    def stamp(self, conn: Connection) -> int:
        """Take before loading an entry in ``conn``; store it with the entry.

        PostgreSQL: the epoch now (a load's statements start later, and a change they
        missed is applied after its commit, hence after this). SQLite: the epoch at which
        ``conn``'s transaction was found up to date by ``refresh`` (its snapshot may
        predate changes other threads applied since); -1, never fresh, if it was behind.
        """
        if self.postgres:
            return self._epoch
        return int(conn.info.get(_STAMP, -1))

    def fresh(self, stamp: int, deps: Iterable[str], *, credentials: bool = False) -> bool:
        """Whether an entry stamped ``stamp`` depending on keys ``deps`` may be used."""
        if self.postgres and not self.trusted():
            return False
        if stamp < self._everything or (credentials and stamp < self._credentials):
            return False
        generations = self._generations
        return all(generations.get(d, 0) <= stamp for d in deps)

    def trusted(self) -> bool:
        """PostgreSQL: the feed is connected and its lease is current."""
        return self._connected and time.monotonic() < self._lease_until

    def refresh(self, conn: Connection) -> None:
        """SQLite: apply the changes other processes committed, as ``conn``'s snapshot
        shows them (one query when there are none), and note the stamp that entries
        loaded in this snapshot get."""
        if self.postgres:
            return
        seen = feed.last_id(conn)
        with self._lock:
            last = self._last_row
            if last is None or seen < last:
                # first request (nothing cached yet), or a snapshot older than changes
                # already applied: what it loads must not be cached as current
                self._last_row = seen if last is None else last
                conn.info[_STAMP] = self._epoch if last is None else -1
                return
            if seen > last:
                found = feed.read_since(conn, last)
                self._apply_locked(found[1] if found is not None else [feed.EVERYTHING])
                self._last_row = seen
            conn.info[_STAMP] = self._epoch

    def apply(self, keys: Iterable[str]) -> None:
        """Refuse, from now on, every entry loaded before and depending on ``keys``."""
        with self._lock:
            self._apply_locked(keys)

    def _apply_locked(self, keys: Iterable[str]) -> None:
        self._epoch += 1
        epoch = self._epoch
        self.applied += 1
        for k in keys:
            if k == feed.EVERYTHING:
                self._everything = epoch
            elif k == feed.ALL_CREDENTIALS:
                self._credentials = epoch
            else:
                self._generations[k] = epoch
        if len(self._generations) > MAX_GENERATIONS:
            self._generations.clear()
            self._everything = epoch

    # -- the writer's side -----------------------------------------------------------------

    def publish(self, conn: Connection, keys: set[str]) -> int | None:
        """Record ``keys`` in the write's transaction. Returns the token to pass to
        ``finish`` once the transaction has ended, committed or not."""
        if not keys:
            return None
        with self._lock:
            self._seq += 1
            seq = self._seq
            if self.postgres:
                self._waiting[seq] = _Wait(self._session if self._connected else 0, self._lock)
        rows = feed.record(conn, keys, self.node, seq)
        if rows is not None:
            with self._lock:
                self._own_rows[seq] = rows
        return seq

    def finish(self, seq: int | None, keys: set[str], *, committed: bool) -> None:
        """After the transaction, if it committed (PostgreSQL): apply ``keys`` here, then
        wait for the other processes, at most LEASE + MARGIN (the module docstring)."""
        if seq is None:
            return
        try:
            if committed and self.postgres:
                self.apply(keys)
                if self._thread is not None:
                    self._await(seq)
            elif committed:
                self._applied_own(seq)
        finally:
            with self._lock:
                self._waiting.pop(seq, None)
                self._own_rows.pop(seq, None)

    def _applied_own(self, seq: int) -> None:
        """SQLite, after a commit: apply this write's own ``changes`` rows here, as the next
        ``refresh`` would after reading them (one statement less for the next request).
        Only when every row before them was applied already: the write held the write
        lock, so rows ``first..last`` are exactly its own, with exactly these keys.
        Otherwise (another process's rows in between, a reader behind) ``refresh`` reads
        them all as usual."""
        with self._lock:
            rows = self._own_rows.get(seq)
            if rows is None or self._last_row is None or self._last_row != rows[0] - 1:
                return
            self._apply_locked(rows[2])
            self._last_row = rows[1]

    def _await(self, seq: int) -> None:
        deadline = time.monotonic() + LEASE + MARGIN
        with self._lock:
            wait = self._waiting[seq]
            current = wait.listening == self._session and self._connected
            young = time.monotonic() - self._connected_at < LEASE
            listed = self._listed if current and young else set()
        # A listener younger than a lease may not have heard every live peer yet: the
        # nodes listening when it began (listed then: every peer that may hold a lease
        # from a heartbeat sent before it, whose later heartbeats it hears). A write
        # published under another session (the feed was lost meanwhile) asks PostgreSQL
        # which nodes listen now.
        if not current:
            listed = self._listed_peers()
        cond = wait.cond
        with cond:
            # Our own change coming back means we have heard every heartbeat committed
            # before it: the peers that may hold entries older than it. A change published
            # before this listening session began never comes back through it.
            while wait.listening == self._session and not wait.echoed:
                if not cond.wait(max(0.0, deadline - time.monotonic())):
                    return
            horizon = time.monotonic() - LEASE
            peers = {n for n, seen in self._peers.items() if seen >= horizon} | listed
            while not peers <= wait.acked:
                if not cond.wait(max(0.0, deadline - time.monotonic())):
                    return

    def _listed_peers(self) -> set[str]:
        """Other nodes with a change-feed connection open now (their application_name)."""
        try:
            names = feed.listening_nodes(self._engine)
        except Exception:  # noqa: BLE001 (then the bounded wait covers them)
            log.warning("change feed: cannot list the nodes; waiting the whole lease")
            return {"?"}  # an unknown node: wait until the deadline
        return names - {self.node}

    def wait_until_trusted(self, timeout: float) -> bool:
        """Block until the feed is up (its first heartbeat back), at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not self.trusted():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- PostgreSQL's listener -------------------------------------------------------------

    def start(self) -> None:
        """Start listening (PostgreSQL; nothing to do on SQLite)."""
        if not self.postgres or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="selfiam-change-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def listener_pid(self) -> int | None:
        """The listening session's backend pid, while connected (tests end it)."""
        current = self._feed
        return current.backend_pid() if current is not None and self._connected else None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._feed = feed.FeedConnection(self._engine, self.node)
            except Exception as exc:  # noqa: BLE001 (any failure: try again later)
                log.warning("change feed: cannot connect (%s); caches unused", type(exc).__name__)
                self._stop.wait(RECONNECT)
                continue
            try:
                self._listen(self._feed)
            except Exception as exc:  # noqa: BLE001
                log.warning("change feed lost (%s); caches unused until back", type(exc).__name__)
                # the server may have dropped the pool's connections too: check them
                pool_health.suspect_all(self._engine)
            finally:
                with self._lock:
                    self._connected = False
                    self._lease_until = 0.0
                    for wait in self._waiting.values():
                        wait.cond.notify()
                self._feed.close()
                self._feed = None
            self._stop.wait(RECONNECT)

    def _listen(self, conn: feed.FeedConnection) -> None:
        # LISTEN is on; forget everything loaded before (catch-up), then wait for our
        # heartbeat before trusting anything.
        self.resets += 1
        listed = conn.listening_nodes() - {self.node}
        with self._lock:
            self._apply_locked([feed.EVERYTHING])
            self._listed = listed
            self._connected = True
            self._session += 1
            self._connected_at = time.monotonic()
            for wait in self._waiting.values():  # published before: never echoed now
                wait.cond.notify()
        sent_at = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now - sent_at >= HEARTBEAT:
                sent_at = now
                conn.send(feed.encode_heartbeat(self.node, repr(now)))
            acks: list[tuple[str, int]] = []
            for payload in conn.wait(max(0.0, sent_at + HEARTBEAT - time.monotonic())):
                message = feed.decode(payload)
                if message is not None:
                    self._receive(message, acks)
            if acks:
                conn.send(feed.encode_ack(self.node, acks))

    def _receive(self, message: Any, acks: list[tuple[str, int]]) -> None:
        with self._lock:
            if message.kind == "c":
                self._apply_locked(message.keys)
                if message.node == self.node:
                    wait = self._waiting.get(message.seq)
                    if wait is not None:
                        wait.echoed = True
                        wait.cond.notify()
                else:
                    acks.append((message.node, message.seq))
            elif message.kind == "h":
                now = time.monotonic()
                if message.node == self.node:
                    sent = float(message.token)
                    self._lease_until = sent + LEASE
                    if self.on_round_trip is not None:
                        self.on_round_trip(now - sent)
                else:
                    self._peers[message.node] = now
                    if len(self._peers) > 1000:  # long-gone nodes
                        self._peers = {n: t for n, t in self._peers.items() if t > now - LEASE}
            elif message.kind == "a":
                for writer, seq in message.acks:
                    wait = self._waiting.get(seq) if writer == self.node else None
                    if wait is not None:
                        wait.acked.add(message.node)
                        wait.cond.notify()
