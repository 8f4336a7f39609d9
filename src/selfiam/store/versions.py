"""Change counters that let every process's caches stay correct (DESIGN rule 7).

Any transaction that changes something affecting authentication or
authorization — users, access keys, passwords, MFA, policies and their
versions, group memberships, attachments, inline policies, boundaries — calls
:func:`bump_auth_version` before it commits. Caches (compiled policies, a
principal's effective policy set, derived SigV4 signing keys) remember the
version they were filled at and compare it with :func:`read_auth_version`
once per request: a single primary-key read. A change committed through any
process is therefore seen by every process on its very next request.

The bump is an ``UPDATE``: on PostgreSQL it row-locks the counter until the
transaction ends, so concurrent auth-changing transactions commit their
bumps one after another and the counter never goes backwards or skips a
change; on SQLite writers are serialized anyway.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from selfiam.store.prepared import PreparedSelect
from selfiam.store.tables import AUTH_VERSION, state_versions


def bump_version(conn: Connection, name: str) -> int:
    """Increment counter ``name`` in the caller's transaction; return the new value."""
    result = conn.execute(
        state_versions.update()
        .where(state_versions.c.name == name)
        .values(version=state_versions.c.version + 1)
    )
    if result.rowcount == 0:  # a counter nobody has created yet
        conn.execute(state_versions.insert().values(name=name, version=1))
        return 1
    return read_version(conn, name)


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
