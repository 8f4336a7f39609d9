"""Throttles for every check of a secret, counted in the database (DESIGN rule 8).

One row of ``secret_throttles`` per (scope, subject) — a portal user name, a source
address, an MFA device — holds the state of :class:`State`. Every change to it is
made under a lock on that row, in the caller's write transaction (PostgreSQL:
``SELECT … FOR UPDATE``; SQLite: the database's write lock, held from ``BEGIN
IMMEDIATE``), so the limits hold across processes and nodes and under concurrency:

* :func:`reserve` admits an attempt *before* the secret is checked and counts it at
  once as a failure, so ``N`` concurrent attempts can never all pass a limit below
  ``N``; it refuses while the subject is locked, or when failures (attempts in
  progress included) have reached the limit.
* :func:`settle` records the outcome: a failure keeps the count, and the failure
  that reaches ``max_failures`` starts a lockout (each one twice as long as the
  last, up to ``max_lockout``) and starts counting again; a success gives the
  reservation back, or with ``forgive`` clears the count and the escalation.

A row is forgotten ``forget_after`` after its last attempt or the end of its
lockout, whichever is later; every reservation (and every TOTP check) deletes a
few forgotten rows of its scopes, so the table holds only live subjects (bounded
work: never more than ``PRUNE_BATCH`` rows per request).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from selfiam.store import tables as t

#: Forgotten rows deleted per reservation: more than one request can create (two).
PRUNE_BATCH = 10
#: The audit trail's error code for an attempt refused because its subject is locked;
#: the caller is told what a wrong secret would have told them.
THROTTLED_CODE = "Throttling"

Subject = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Limits:
    """How many failures a subject may have before it is locked out, and for how long."""

    max_failures: int
    first_lockout: timedelta
    max_lockout: timedelta
    forget_after: timedelta

    def lockout(self, number: int) -> timedelta:
        """How long lockout ``number`` (1, 2, …) lasts: doubling from the first, capped."""
        doubled = self.first_lockout * (1 << min(max(number - 1, 0), 30))
        return min(doubled, self.max_lockout)


#: The portal's sign-in, per user name and per source address, and ChangePassword per
#: user name: 5 failures, then 15 minutes locked; no escalation, since anyone can
#: lock a user name out by guessing (the lockout stays a nuisance, never a denial).
SIGN_IN = Limits(
    max_failures=5,
    first_lockout=timedelta(minutes=15),
    max_lockout=timedelta(minutes=15),
    forget_after=timedelta(minutes=15),
)


@dataclass(frozen=True, slots=True)
class State:
    """A subject's failures since its last lockout, its lockouts, and its lock's end."""

    failures: int = 0
    lockouts: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def admit(state: State, limits: Limits, now: datetime) -> State | None:
    """The state with one more attempt counted, or None if the attempt is refused."""
    if state.locked(now) or state.failures >= limits.max_failures:
        return None
    return replace(state, failures=state.failures + 1)


def record(state: State, limits: Limits, now: datetime, ok: bool, *, forgive: bool) -> State:
    """The state once an admitted attempt's outcome is known."""
    if ok:
        if forgive:
            return State()
        return replace(state, failures=max(state.failures - 1, 0))
    if state.failures >= limits.max_failures:
        lockouts = state.lockouts + 1
        return State(failures=0, lockouts=lockouts, locked_until=now + limits.lockout(lockouts))
    return state


def user_subject(account: str, user_name: str) -> Subject:
    """The sign-in subject of a user name (which need not exist) in an account."""
    return ("user", f"{account.strip().lower()[:63]}/{user_name.lower()[:64]}")


def address_subject(source_ip: str) -> Subject:
    return ("address", source_ip[:128] or "unknown")


# -- the rows ---------------------------------------------------------------------------


def _insert_missing(conn: Connection, subject: Subject, now: datetime) -> None:
    scope, key = subject
    values = {
        "scope": scope,
        "subject": key,
        "failures": 0,
        "lockouts": 0,
        "locked_until": None,
        "expires_at": now,  # a new row is a forgotten one
    }
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        insert(t.secret_throttles)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["scope", "subject"])
    )


def load(conn: Connection, subject: Subject, now: datetime) -> State:
    """The subject's state, its row locked until the transaction ends.

    A forgotten row may be pruned by another transaction while this one waits for its
    lock (PostgreSQL); the row is then inserted again, and that one is this
    transaction's until it commits.
    """
    f = t.secret_throttles
    query = (
        select(f.c.failures, f.c.lockouts, f.c.locked_until, f.c.expires_at)
        .where(f.c.scope == subject[0], f.c.subject == subject[1])
        .with_for_update()
    )
    row = None
    for _ in range(3):
        _insert_missing(conn, subject, now)
        row = conn.execute(query).first()
        if row is not None:
            break
    if row is None:
        raise RuntimeError(f"the throttle row of {subject[0]} {subject[1]!r} keeps vanishing")
    if row.expires_at <= now:
        return State()
    return State(row.failures, row.lockouts, row.locked_until)


def store(conn: Connection, subject: Subject, state: State, limits: Limits, now: datetime) -> None:
    """Write the state of a subject :func:`load` locked."""
    f = t.secret_throttles
    quiet_from = max(now, state.locked_until) if state.locked_until is not None else now
    conn.execute(
        f.update()
        .where(f.c.scope == subject[0], f.c.subject == subject[1])
        .values(
            failures=state.failures,
            lockouts=state.lockouts,
            locked_until=state.locked_until,
            expires_at=quiet_from + limits.forget_after,
        )
    )


def prune(conn: Connection, now: datetime, scopes: Sequence[str]) -> None:
    """Delete up to ``PRUNE_BATCH`` forgotten rows of ``scopes``, skipping rows others
    hold locked.

    Call it once the transaction has locked and stored every throttle row it needs
    (a row it stored is not forgotten): it never waits, so a transaction waiting for
    a row it took cannot be part of a deadlock.
    """
    f = t.secret_throttles
    forgotten = (
        select(f.c.scope, f.c.subject)
        .where(f.c.scope.in_(scopes), f.c.expires_at <= now)
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    conn.execute(f.delete().where(tuple_(f.c.scope, f.c.subject).in_(forgotten)))


def forget(conn: Connection, subject: Subject) -> None:
    """Drop a subject's count (its secret is gone: a deleted MFA device)."""
    f = t.secret_throttles
    conn.execute(f.delete().where(f.c.scope == subject[0], f.c.subject == subject[1]))


# -- attempts ---------------------------------------------------------------------------


def reserve(conn: Connection, limits: Limits, subjects: Sequence[Subject], now: datetime) -> bool:
    """Count one attempt against every subject, or against none if any refuses it.

    Call it in a write transaction and commit it before (or together with) the
    check, then :func:`settle` the outcome. Subjects are locked in the order given:
    callers pass them in one fixed order (user, then address).
    """
    admitted = [admit(load(conn, subject, now), limits, now) for subject in subjects]
    ok = all(state is not None for state in admitted)
    if ok:
        for subject, state in zip(subjects, admitted, strict=True):
            assert state is not None
            store(conn, subject, state, limits, now)
    prune(conn, now, sorted({scope for scope, _ in subjects}))
    return ok


def settle(
    conn: Connection,
    limits: Limits,
    subjects: Sequence[Subject],
    now: datetime,
    ok: bool,
    *,
    forgive: bool = False,
) -> None:
    """Record the outcome of an attempt :func:`reserve` admitted."""
    for subject in subjects:
        state = load(conn, subject, now)
        store(conn, subject, record(state, limits, now, ok, forgive=forgive), limits, now)
