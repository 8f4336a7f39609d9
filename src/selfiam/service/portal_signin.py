"""Signing in to the portal: account, user name and password, then the MFA code if the
user has a device; failed attempts throttled per user name and per source address.

Every failure of the first step gets the same message, whether the account, the
user or the password was wrong (and an unknown user costs the same argon2 work,
in :func:`~selfiam.service.passwords.verify_login`). After ``MAX_FAILURES``
failures within ``FAILURE_WINDOW`` for a user name — existing or not — or for a
source address, further attempts are refused without checking the password
until the oldest failure leaves the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from selfiam.domain import totp
from selfiam.domain.identifiers import new_request_id
from selfiam.service.audit import AuditRecord
from selfiam.service.passwords import effective_policy, login_profile, verify_login
from selfiam.service.portal_sessions import (
    PortalConfig,
    PortalSession,
    create_session,
    load_session,
)
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
INCORRECT = "Your authentication information is incorrect. Please try again."
THROTTLED = "Too many failed sign-in attempts. Wait a few minutes, then try again."
HARD_EXPIRED = "Your password has expired. Contact your administrator to reset it."
INVALID_MFA = "The MFA code is not valid. Enter the current code from your MFA device."
MAX_NAME = 64  # IAM's longest user name


class SignInRefused(Exception):
    """A sign-in step failed; ``str(error)`` is the message to show (never more specific
    than it must be)."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The cookie token (to set once) and the session it opens."""

    token: str
    session: PortalSession


def resolve_account(runtime: Runtime, text: str) -> str | None:
    """The account id for a 12-digit id or an account alias, if this server has it."""
    text = text.strip()
    if not text or len(text) > 63:
        return None
    a = t.accounts
    column = a.c.account_id if text.isdigit() and len(text) == 12 else a.c.alias
    with read_transaction(runtime.engine) as conn:
        found = conn.execute(select(a.c.account_id).where(column == text.lower())).first()
    return str(found.account_id) if found is not None else None


def _subjects(account_text: str, user_name: str, source_ip: str) -> list[tuple[str, str]]:
    who = f"{account_text.strip().lower()[:63]}/{user_name.lower()[:MAX_NAME]}"
    return [("user", who), ("address", source_ip[:128] or "unknown")]


def throttled(conn: Connection, subjects: list[tuple[str, str]], now: datetime) -> bool:
    f = t.sign_in_failures
    since = now - FAILURE_WINDOW
    for scope, subject in subjects:
        count = conn.execute(
            select(func.count())
            .select_from(f)
            .where(f.c.scope == scope, f.c.subject == subject, f.c.failed_at > since)
        ).scalar_one()
        if count >= MAX_FAILURES:
            return True
    return False


def _record_failure(runtime: Runtime, subjects: list[tuple[str, str]], now: datetime) -> None:
    f = t.sign_in_failures
    with transaction(runtime.engine) as conn:
        conn.execute(f.delete().where(f.c.failed_at <= now - FAILURE_WINDOW))
        conn.execute(
            f.insert(), [{"scope": s, "subject": x, "failed_at": now} for s, x in subjects]
        )


def _clear_user_failures(runtime: Runtime, subjects: list[tuple[str, str]]) -> None:
    f = t.sign_in_failures
    with transaction(runtime.engine) as conn:
        for scope, subject in subjects:
            if scope == "user":
                conn.execute(f.delete().where(f.c.scope == scope, f.c.subject == subject))


def _check_not_throttled(runtime: Runtime, subjects: list[tuple[str, str]], now: datetime) -> None:
    with read_transaction(runtime.engine) as conn:
        if throttled(conn, subjects, now):
            raise SignInRefused(THROTTLED)


def _has_mfa(conn: Connection, user_id: str) -> bool:
    m = t.mfa_devices
    return conn.execute(select(m.c.serial_number).where(m.c.user_id == user_id)).first() is not None


def sign_in(
    runtime: Runtime,
    config: PortalConfig,
    account_text: str,
    user_name: str,
    password: str,
    now: datetime,
    *,
    source_ip: str = "",
    user_agent: str = "",
) -> SignedIn:
    """Check the password and open a session: stage "mfa" if the user has an MFA device,
    else "password" if the password must be changed first, else "active"."""
    account_id = resolve_account(runtime, account_text)
    subjects = _subjects(account_id or account_text, user_name, source_ip)
    _check_not_throttled(runtime, subjects, now)
    if account_id is None or not user_name or len(user_name) > MAX_NAME:
        runtime.hasher.verify_dummy(password)
        _record_failure(runtime, subjects, now)
        raise SignInRefused(INCORRECT)
    checked = verify_login(
        runtime, account_id, user_name, password, now, source_ip=source_ip, user_agent=user_agent
    )
    if checked is None:
        _record_failure(runtime, subjects, now)
        raise SignInRefused(INCORRECT)
    _clear_user_failures(runtime, subjects)
    if checked.must_contact_admin:
        raise SignInRefused(HARD_EXPIRED)
    with transaction(runtime.engine) as conn:
        profile = login_profile(conn, checked.user_id)
        if profile is None:  # deleted since the password was checked
            raise SignInRefused(INCORRECT)
        if _has_mfa(conn, checked.user_id):
            stage = "mfa"
        else:
            stage = "password" if checked.must_change_password else "active"
        token = create_session(
            conn,
            account_id=account_id,
            user_id=checked.user_id,
            stage=stage,
            now=now,
            config=config,
            password_changed_at=profile.password_changed_at,
        )
    session = load_session(runtime, token, now, config)
    if session is None:
        raise SignInRefused(INCORRECT)
    return SignedIn(token, session)


def _claim_code(conn: Connection, runtime: Runtime, user_id: str, code: str, now: datetime) -> bool:
    """Accept ``code`` from one of the user's enabled devices, once (the step is claimed
    with a conditional UPDATE, as GetSessionToken does)."""
    m = t.mfa_devices
    devices = conn.execute(
        select(m.c.serial_number, m.c.seed_ciphertext, m.c.last_used_step).where(
            m.c.user_id == user_id
        )
    ).all()
    for device in devices:
        seed = runtime.box.open(device.seed_ciphertext, device.serial_number.encode()).decode()
        step = totp.verify(seed, code, now, device.last_used_step)
        if step is None:
            continue
        claimed = conn.execute(
            m.update()
            .where(
                m.c.serial_number == device.serial_number,
                m.c.user_id == user_id,
                or_(m.c.last_used_step.is_(None), m.c.last_used_step < step),
            )
            .values(last_used_step=step)
        ).rowcount
        if claimed == 1:
            return True
    return False


def complete_mfa(
    runtime: Runtime,
    config: PortalConfig,
    session: PortalSession,
    code: str,
    now: datetime,
    *,
    source_ip: str = "",
) -> SignedIn:
    """The second step: a code from the user's MFA device. On success the half-signed-in
    session is replaced by a new one (a new cookie token) carrying the MFA time."""
    if session.stage != "mfa":
        raise SignInRefused(INCORRECT)
    subjects = _subjects(session.account_id, session.user_name, source_ip)
    _check_not_throttled(runtime, subjects, now)
    code = code.strip().replace(" ", "")
    ps = t.portal_sessions
    token: str | None = None
    with transaction(runtime.engine) as conn:
        ok = _claim_code(conn, runtime, session.user_id, code, now)
        profile = login_profile(conn, session.user_id) if ok else None
        if profile is not None:
            policy = effective_policy(conn, session.account_id)
            must_change = bool(profile.password_reset_required) or policy.is_expired(
                profile.password_changed_at, now
            )
            conn.execute(ps.delete().where(ps.c.session_id == session.session_id))
            token = create_session(
                conn,
                account_id=session.account_id,
                user_id=session.user_id,
                stage="password" if must_change else "active",
                now=now,
                config=config,
                password_changed_at=profile.password_changed_at,
                mfa_authenticated_at=now,
            )
    if token is None:
        _record_failure(runtime, subjects, now)
        _audit_mfa(runtime, session, now, False, source_ip)
        raise SignInRefused(INVALID_MFA)
    _audit_mfa(runtime, session, now, True, source_ip)
    signed = load_session(runtime, token, now, config)
    if signed is None:
        raise SignInRefused(INCORRECT)
    return SignedIn(token, signed)


def _audit_mfa(
    runtime: Runtime, session: PortalSession, now: datetime, ok: bool, source_ip: str
) -> None:
    runtime.audit.submit(
        AuditRecord(
            at=now,
            request_id=new_request_id(),
            account_id=session.account_id,
            caller_arn=session.arn,
            action="signin:ConsoleLoginMFA",
            resource=session.arn,
            decision="allowed" if ok else "error",
            error_code=None if ok else "InvalidAuthenticationCode",
            source_ip=source_ip or None,
            user_agent=None,
        )
    )
