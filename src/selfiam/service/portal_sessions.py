"""The portal's server-side sessions, and the CSRF tokens bound to them.

The browser holds a random token in a cookie; the database holds only its
SHA-256 (``portal_sessions.session_id``), so a copy of the database opens no
session. A session is checked against the database on every request, in one
read: it ends

* when its user is deleted (the row goes with the user, FK cascade);
* when the user's password is changed elsewhere, or the login profile is
  deleted (``password_changed_at`` no longer matches the snapshot);
* after ``idle`` without a request, and ``lifetime`` after sign-in.

A session in stage "mfa" has checked the password and waits for the TOTP
code; one in stage "password" may only change the password (reset required
or expired); only "active" sessions act as the user (:meth:`PortalSession.caller`).
An active session may wear a role session ("Switch role",
:mod:`selfiam.service.portal_roles`): its pages then act as that role session
(:meth:`PortalSession.acting_caller`), loaded in the same read as the session.

The portal is a client of the service layer: it builds a :class:`Caller` from
the session and calls ``Runtime.invoke`` like the API does. The Caller is
marked ``via_console`` and carries ``mfa_authenticated_at`` from an MFA
sign-in, so the policy engine sees ``aws:MultiFactorAuthPresent`` as AWS does
for console sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import user_arn
from selfiam.service.caller import Caller
from selfiam.service.portal_roles import worn_caller
from selfiam.service.principals import load_user_tags
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime

#: ``last_seen_at`` is written at most this often (the idle timeout is this precise).
TOUCH_INTERVAL = timedelta(seconds=60)
TOKEN_BYTES = 32
_CSRF_PURPOSE = "portal-csrf"


@dataclass(frozen=True, slots=True)
class PortalConfig:
    """How long sessions live (``selfiam serve``: SELFIAM_PORTAL_IDLE_MINUTES/MAX_HOURS),
    and the portal's public address (``--public-url``; None: the request's host)."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    public_url: str | None = None


@dataclass(frozen=True, slots=True)
class PortalSession:
    session_id: str
    account_id: str
    user_id: str
    user_name: str
    user_path: str
    stage: str
    created_at: datetime
    expires_at: datetime
    mfa_authenticated_at: datetime | None
    principal_tags: tuple[tuple[str, str], ...] = ()
    #: The role session this portal session wears (Switch role), if any.
    role: Caller | None = None
    role_expires_at: datetime | None = None

    @property
    def arn(self) -> str:
        return user_arn(self.account_id, self.user_name, self.user_path)

    @property
    def is_active(self) -> bool:
        return self.stage == "active"

    def caller(self) -> Caller:
        """The signed-in member, as the policy engine will see them."""
        return Caller(
            account_id=self.account_id,
            arn=self.arn,
            user_id=self.user_id,
            user_name=self.user_name,
            mfa_authenticated_at=self.mfa_authenticated_at,
            principal_tags=self.principal_tags,
            via_console=True,
            # A console session is temporary credentials in AWS: aws:TokenIssueTime.
            token_issued_at=self.created_at,
        )

    def acting_caller(self) -> Caller:
        """Whom the pages act as: the worn role session, or else the member."""
        return self.role if self.role is not None else self.caller()


def session_id_of(token: str) -> str:
    """What is stored of a cookie token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(
    conn: Connection,
    *,
    account_id: str,
    user_id: str,
    stage: str,
    now: datetime,
    config: PortalConfig,
    password_changed_at: datetime,
    mfa_authenticated_at: datetime | None = None,
) -> str:
    """Insert a session in the caller's transaction; return the cookie token (shown once)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute(
        t.portal_sessions.insert().values(
            session_id=session_id_of(token),
            account_id=account_id,
            user_id=user_id,
            stage=stage,
            created_at=now,
            last_seen_at=now,
            expires_at=now + config.lifetime,
            mfa_authenticated_at=mfa_authenticated_at,
            password_changed_at=password_changed_at,
        )
    )
    return token


def _alive(row: Row[Any], now: datetime, config: PortalConfig) -> bool:
    return (
        now < row.expires_at
        and now - row.last_seen_at < config.idle
        and row.profile_changed_at is not None
        and row.profile_changed_at == row.password_changed_at
    )


def load_session(
    runtime: Runtime, token: str, now: datetime, config: PortalConfig
) -> PortalSession | None:
    """The live session behind a cookie token, or None (and a dead one is deleted)."""
    if not token or len(token) > 128:
        return None
    session_id = session_id_of(token)
    ps = t.portal_sessions
    with read_transaction(runtime.engine) as conn:
        row = _load_row(conn, session_id)
        tags = load_user_tags(conn, row.user_id) if row is not None else ()
        worn = worn_caller(runtime, conn, session_id, now) if row is not None else None
    if row is None:
        return None
    if not _alive(row, now, config):
        end_session(runtime, session_id)
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        with transaction(runtime.engine) as conn:
            conn.execute(ps.update().where(ps.c.session_id == session_id).values(last_seen_at=now))
    return _session(row, tags, worn)


def _load_row(conn: Connection, session_id: str) -> Row[Any] | None:
    ps, u, lp = t.portal_sessions, t.users, t.login_profiles
    return conn.execute(
        select(
            ps,
            u.c.name.label("user_name"),
            u.c.path.label("user_path"),
            lp.c.password_changed_at.label("profile_changed_at"),
        )
        .select_from(
            ps.join(u, u.c.user_id == ps.c.user_id).outerjoin(lp, lp.c.user_id == ps.c.user_id)
        )
        .where(ps.c.session_id == session_id)
    ).first()


def _session(
    row: Row[Any],
    tags: tuple[tuple[str, str], ...],
    worn: tuple[Caller, datetime] | None = None,
) -> PortalSession:
    if row.stage != "active":
        worn = None
    return PortalSession(
        session_id=row.session_id,
        account_id=row.account_id,
        user_id=row.user_id,
        user_name=row.user_name,
        user_path=row.user_path,
        stage=row.stage,
        created_at=row.created_at,
        expires_at=row.expires_at,
        mfa_authenticated_at=row.mfa_authenticated_at,
        principal_tags=tags,
        role=worn[0] if worn else None,
        role_expires_at=worn[1] if worn else None,
    )


def end_session(runtime: Runtime, session_id: str) -> None:
    """Sign out: the row goes, so the cookie opens nothing any more."""
    ps = t.portal_sessions
    with transaction(runtime.engine) as conn:
        conn.execute(ps.delete().where(ps.c.session_id == session_id))


def password_changed(runtime: Runtime, session: PortalSession) -> None:
    """After the member's own ChangePassword succeeded in this session: keep this session
    (take the new password's time as its snapshot) and let it on. Other sessions of the
    user still hold the old snapshot, and end."""
    ps, lp = t.portal_sessions, t.login_profiles
    with transaction(runtime.engine) as conn:
        changed = conn.execute(
            select(lp.c.password_changed_at).where(lp.c.user_id == session.user_id)
        ).scalar_one_or_none()
        if changed is None:
            conn.execute(ps.delete().where(ps.c.session_id == session.session_id))
            return
        next_stage = "active" if session.stage == "password" else session.stage
        conn.execute(
            ps.update()
            .where(ps.c.session_id == session.session_id)
            .values(password_changed_at=changed, stage=next_stage)
        )


# -- CSRF ------------------------------------------------------------------------------


def form_token(runtime: Runtime, binding: str) -> str:
    """An HMAC of ``binding`` (e.g. ``"session:" + session_id``) under a key derived from
    the master key: every node computes the same, nobody without the key can."""
    key = runtime.box.derive_key(_CSRF_PURPOSE)
    return hmac.new(key, binding.encode(), hashlib.sha256).hexdigest()


def form_token_valid(runtime: Runtime, binding: str, token: str | None) -> bool:
    if not token:
        return False
    return hmac.compare_digest(form_token(runtime, binding).encode(), token.encode())


def csrf_token(runtime: Runtime, session: PortalSession) -> str:
    return form_token(runtime, f"session:{session.session_id}")


def csrf_valid(runtime: Runtime, session: PortalSession, token: str | None) -> bool:
    return form_token_valid(runtime, f"session:{session.session_id}", token)


# -- a virtual MFA device being enrolled -------------------------------------------------


def pending_mfa_ad(session_id: str, serial: str) -> bytes:
    return f"portal-mfa:{session_id}:{serial}".encode()


def set_pending_mfa(runtime: Runtime, session: PortalSession, serial: str, seed: str) -> None:
    """Keep the seed CreateVirtualMFADevice showed once, sealed, until the device is enabled
    (so the QR code can be shown again if a code was mistyped)."""
    ps = t.portal_sessions
    sealed = runtime.box.seal(seed.encode(), pending_mfa_ad(session.session_id, serial))
    with transaction(runtime.engine) as conn:
        conn.execute(
            ps.update()
            .where(ps.c.session_id == session.session_id)
            .values(pending_mfa_serial=serial, pending_mfa_seed_ciphertext=sealed)
        )


def pending_mfa(runtime: Runtime, session: PortalSession) -> tuple[str, str] | None:
    """(serial number, seed) of the device this session is enrolling, if any."""
    ps = t.portal_sessions
    with read_transaction(runtime.engine) as conn:
        row = conn.execute(
            select(ps.c.pending_mfa_serial, ps.c.pending_mfa_seed_ciphertext).where(
                ps.c.session_id == session.session_id
            )
        ).first()
    if row is None or row.pending_mfa_serial is None or row.pending_mfa_seed_ciphertext is None:
        return None
    seed = runtime.box.open(
        row.pending_mfa_seed_ciphertext, pending_mfa_ad(session.session_id, row.pending_mfa_serial)
    )
    return row.pending_mfa_serial, seed.decode()


def clear_pending_mfa(runtime: Runtime, session: PortalSession) -> None:
    ps = t.portal_sessions
    with transaction(runtime.engine) as conn:
        conn.execute(
            ps.update()
            .where(ps.c.session_id == session.session_id)
            .values(pending_mfa_serial=None, pending_mfa_seed_ciphertext=None)
        )
