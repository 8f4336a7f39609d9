"""Change counters that let every process's caches stay correct (DESIGN rule 7).

Two counters, read together once per request (:func:`read_versions`, one
query of a two-row table):

* ``auth``: any transaction that changes something affecting authentication
  or authorization — users, access keys, passwords, MFA, policies and their
  versions, group memberships, attachments, inline policies, boundaries —
  calls :func:`bump_auth_version` before it commits. The credential cache
  (callers and derived SigV4 signing keys) is keyed by it.
* ``policy``: the subset of those changes that can change a principal's
  policies (policies, their versions and attachments, inline policies, group
  memberships, boundaries, users and groups themselves) also calls
  :func:`bump_policy_version`. The principal-policy cache is keyed by it, so
  deleting an access key or changing a password reloads credentials but no
  caller's policies.

A cache entry remembers the version it was filled at; a change committed
through any process is therefore seen by every process on its very next
request.

The bump is an ``UPDATE``: on PostgreSQL it row-locks the counter until the
transaction ends, so concurrent auth-changing transactions commit their
bumps one after another and the counter never goes backwards or skips a
change; on SQLite writers are serialized anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from selfiam.store.prepared import PreparedSelect
from selfiam.store.tables import AUTH_VERSION, POLICY_VERSION, state_versions

# One statement (SQLite >= 3.35 and PostgreSQL both return the updated row), built once.
_BUMP = (
    state_versions.update()
    .where(state_versions.c.name == bindparam("counter"))
    .values(version=state_versions.c.version + 1)
    .returning(state_versions.c.version)
)


def bump_version(conn: Connection, name: str) -> int:
    """Increment counter ``name`` in the caller's transaction; return the new value."""
    bumped = conn.execute(_BUMP, {"counter": name}).scalar()
    if bumped is None:  # a counter nobody has created yet
        conn.execute(state_versions.insert().values(name=name, version=1))
        return 1
    return int(bumped)


# Read on every request.
_READ_VERSION = PreparedSelect(
    select(state_versions.c.version).where(state_versions.c.name == bindparam("name"))
)


def read_version(conn: Connection, name: str) -> int:
    """The current value of counter ``name`` (0 if it does not exist)."""
    return int(_READ_VERSION.scalar(conn, {"name": name}) or 0)


def bump_auth_version(conn: Connection) -> int:
    """Mark that authentication or authorization data changed in this transaction."""
    return bump_version(conn, AUTH_VERSION)


def read_auth_version(conn: Connection) -> int:
    """The auth change counter, to compare with a cache's."""
    return read_version(conn, AUTH_VERSION)


def bump_policy_version(conn: Connection) -> int:
    """Mark that something deciding principals' policies changed in this transaction."""
    return bump_version(conn, POLICY_VERSION)


def read_policy_version(conn: Connection) -> int:
    """The policy change counter, to compare with the principal-policy cache's."""
    return read_version(conn, POLICY_VERSION)


@dataclass(frozen=True, slots=True)
class Versions:
    """Both counters, as one request read them."""

    auth: int
    policy: int


_READ_VERSIONS = PreparedSelect(select(state_versions.c.name, state_versions.c.version))


def read_versions(conn: Connection) -> Versions:
    """Both counters in one query (the table holds a row per counter)."""
    found = dict(_READ_VERSIONS.all(conn))
    return Versions(int(found.get(AUTH_VERSION, 0)), int(found.get(POLICY_VERSION, 0)))
