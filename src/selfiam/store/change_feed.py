"""The change feed: what each write transaction changed, for every process's caches.

A write names what it changed as *change keys* (:func:`key`): an access key, a user's
credentials, a user, a role, a group, a managed policy, or everything. They travel to
every process that shares the database:

* **PostgreSQL**: ``pg_notify('selfiam_changes', payload)`` in the write's own
  transaction, sent with its ``COMMIT`` (``store/pg_commit.py``). PostgreSQL delivers a notification at commit, never for a rolled-back
  transaction, to every session LISTENing on the channel, and each listener receives
  the notifications of all transactions in the order they committed. Each process
  keeps one dedicated connection LISTENing (:class:`FeedConnection`, driven by
  :mod:`selfiam.service.invalidation`). Nothing is stored: a process that lost its
  listening connection forgets every cached entry once it LISTENs again, so a
  notification sent while it was away cannot be missed.
* **SQLite**: the keys are rows of the ``changes`` table, written in the same
  transaction. Writers are serialized, so ids grow in commit order and without gaps;
  each process reads the rows after the last id it applied (:func:`read_since`) at the
  start of each request, in the request's own read transaction. The table is pruned to
  the last ``KEEP`` rows; a process that fell further behind forgets everything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select

from selfiam.store import pg_commit
from selfiam.store.prepared import PreparedSelect, PreparedWrite
from selfiam.store.tables import changes

CHANNEL = "selfiam_changes"
#: Everything: an account-wide change (the password policy, a rare bulk change).
EVERYTHING = "*"
#: Every cached credential (callers), but no principal's policies.
ALL_CREDENTIALS = "C"
#: Kinds of change keys: ``kind + ":" + id``.
ACCESS_KEY = "k"  # an access key (its status or existence), by key id
CREDENTIALS = "c"  # how a user signs in or signs requests, by user id
USER = "u"  # a user: existence, name, path, tags, groups, policies; by user id
ROLE = "r"  # a role: existence, name, path, tags, policies; by role id
GROUP = "g"  # a group: existence, name, policies; by group id
POLICY = "p"  # a managed policy: its default version or existence; by ARN

#: PostgreSQL refuses a payload of 8,000 bytes or more; a change naming more keys than
#: fit is sent as EVERYTHING (a rare bulk change: every process reloads what it needs).
MAX_PAYLOAD = 7_000
#: Rows of ``changes`` kept on SQLite (pruned by the writer every ``PRUNE_EVERY`` ids).
KEEP = 10_000
PRUNE_EVERY = 1_000
#: Rows a process reads at once; more pending than that and it forgets everything.
MAX_READ = 1_000


def key(kind: str, ident: str) -> str:
    """The change key of entity ``ident`` of ``kind`` (ACCESS_KEY, USER, ...)."""
    return f"{kind}:{ident}"


def is_postgres(conn_or_engine: Connection | Engine) -> bool:
    return conn_or_engine.dialect.name == "postgresql"


def record(
    conn: Connection, keys: Iterable[str], node: str, seq: int
) -> tuple[int, int, list[str]] | None:
    """Publish ``keys`` in ``conn``'s transaction: delivered (PostgreSQL) or visible
    (SQLite) at commit, never if it rolls back. ``node``/``seq`` name the write, so
    that the writing process can wait for the others' acknowledgements. SQLite: returns
    (first row id, last row id, the keys as stored) when the rows' ids are consecutive
    (one write holds the write lock, so they are), else None."""
    wanted = sorted(set(keys))
    if not wanted:
        return None
    if EVERYTHING in wanted:
        wanted = [EVERYTHING]
    if is_postgres(conn):
        payload = encode_change(node, seq, wanted)
        if len(payload) > MAX_PAYLOAD:
            payload = encode_change(node, seq, [EVERYTHING])
        pg_commit.notify_at_commit(conn, CHANNEL, payload)
        return None
    # one statement per key (a write names a few): each id is known, for the pruning
    stored = [k[:600] for k in wanted]
    ids = []
    for k in stored:
        last = int(_INSERT_CHANGE.execute(conn, {"change_key": k}).lastrowid or 0)
        ids.append(last)
        if last % PRUNE_EVERY == 0:
            conn.execute(_PRUNE, {"below": last - KEEP})
    if ids != list(range(ids[0], ids[0] + len(ids))):
        return None
    return ids[0], ids[-1], stored


_INSERT_CHANGE = PreparedWrite(changes.insert())
_PRUNE = changes.delete().where(changes.c.id <= bindparam("below"))


# -- PostgreSQL's payloads ------------------------------------------------------------------
# "c|node|seq|key key ..." a committed change; "a|node|writer:seq,..." acknowledgements of
# changes applied; "h|node|token" a heartbeat. Keys hold no space (ids and ARNs cannot).


def encode_change(node: str, seq: int, keys: Iterable[str]) -> str:
    return f"c|{node}|{seq}|{' '.join(keys)}"


def encode_ack(node: str, acked: Iterable[tuple[str, int]]) -> str:
    return f"a|{node}|{','.join(f'{w}:{s}' for w, s in acked)}"


def encode_heartbeat(node: str, token: str) -> str:
    return f"h|{node}|{token}"


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, decoded."""

    kind: str  # "c", "a" or "h"
    node: str
    seq: int = 0
    keys: tuple[str, ...] = ()
    acks: tuple[tuple[str, int], ...] = ()
    token: str = ""


def decode(payload: str) -> Message | None:
    """The message in ``payload``; None if it is not one of ours."""
    parts = payload.split("|", 3)
    try:
        if parts[0] == "c" and len(parts) == 4:
            return Message("c", parts[1], int(parts[2]), tuple(parts[3].split()))
        if parts[0] == "a" and len(parts) == 3:
            acks = tuple(
                (w, int(s)) for w, _, s in (item.rpartition(":") for item in parts[2].split(","))
            )
            return Message("a", parts[1], acks=acks)
        if parts[0] == "h" and len(parts) == 3:
            return Message("h", parts[1], token=parts[2])
    except ValueError:
        return None
    return None


class FeedConnection:
    """Two autocommit psycopg connections of a process: one LISTENs on ``CHANNEL``, the
    other sends heartbeats and acknowledgements (so that the listening one only ever
    waits). Built from the engine's own connection arguments."""

    def __init__(self, engine: Engine, node: str) -> None:
        import psycopg  # PostgreSQL only

        args, kwargs = engine.dialect.create_connect_args(engine.url)
        kwargs = {**kwargs, "autocommit": True, "application_name": f"selfiam-feed:{node}"}
        self._listen: Any = psycopg.connect(*args, **kwargs)
        try:
            self._send: Any = psycopg.connect(*args, **kwargs)
            self._listen.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            self._listen.close()
            raise

    def backend_pid(self) -> int:
        """The listening session's process id (``pg_terminate_backend`` ends it)."""
        return int(self._listen.info.backend_pid)

    def wait(self, timeout: float) -> Iterator[str]:
        """Payloads received within ``timeout`` seconds: those of the first read that brought
        any (psycopg hands over every notification of a read at once). No second, empty
        wait to drain: what comes later comes with the next call; the drain was a third
        of the listener's CPU per notification."""
        for notify in self._listen.notifies(timeout=timeout, stop_after=1):
            yield notify.payload

    def send(self, payload: str) -> None:
        self._send.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    def listening_nodes(self) -> set[str]:
        """:func:`listening_nodes`, asked on this feed's own sending connection."""
        return _node_names(self._send.execute(_LISTENING).fetchall())

    def close(self) -> None:
        for conn in (self._listen, self._send):
            with contextlib.suppress(Exception):  # closing a broken connection
                conn.close()


def listening_nodes(engine: Engine) -> set[str]:
    """The nodes with a feed connection open on the database now (``FeedConnection``'s
    application_name), as PostgreSQL lists its sessions."""
    with engine.connect() as conn:
        return _node_names(conn.exec_driver_sql(_LISTENING).all())


#: No ``%`` in it: run with and without parameters, a LIKE pattern's ``%`` needed doubling.
_LISTENING = (
    "SELECT DISTINCT application_name FROM pg_stat_activity"
    " WHERE datname = current_database() AND starts_with(application_name, 'selfiam-feed:')"
)


def _node_names(rows: Iterable[Any]) -> set[str]:
    return {str(row[0]).split(":", 1)[1] for row in rows}


# -- SQLite's rows --------------------------------------------------------------------------

_LAST = PreparedSelect(select(func.max(changes.c.id)))
_SINCE = PreparedSelect(
    select(changes.c.id, changes.c.change_key)
    .where(changes.c.id > bindparam("after"))
    .order_by(changes.c.id)
    .limit(MAX_READ + 1)
)


def last_id(conn: Connection) -> int:
    """The id of the latest change (0 if none)."""
    return int(_LAST.scalar(conn, {}) or 0)


def read_since(conn: Connection, after: int) -> tuple[int, list[str]] | None:
    """(latest id, keys changed after id ``after``), or None if some of those rows are
    gone (pruned) or too many: the reader must then forget everything."""
    rows = _SINCE.all(conn, {"after": after})
    if not rows:
        return after, []
    if len(rows) > MAX_READ or int(rows[0][0]) != after + 1:
        return None
    return int(rows[-1][0]), [k for _, k in rows]
