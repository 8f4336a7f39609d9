"""Signing in to the portal: account, user name and password, then the MFA code if the
user has a device; attempts throttled per user name and per source address.

Every failure of the first step gets the same message, whether the account, the
user or the password was wrong (and an unknown user costs the same argon2 work,
in :func:`~selfiam.service.passwords.verify_login`). Each attempt — a password or
an MFA code — is reserved in the database before the secret is checked
(:mod:`selfiam.service.throttle`, limits :data:`~selfiam.service.throttle.SIGN_IN`):
after ``MAX_FAILURES`` failures for a user name — existing or not — or for a source
address, further attempts are refused without checking anything for
``FAILURE_WINDOW``. Concurrent attempts cannot overtake the limit (each holds its
reservation while its password is hashed), and a right password only gives its own
reservation back: it never clears earlier failures, MFA failures included. MFA
codes are also counted per device (:mod:`selfiam.service.mfa_checks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.engine import Connection

from selfiam.domain.identifiers import new_request_id
from selfiam.service import throttle
from selfiam.service.audit import AuditRecord
from selfiam.service.mfa_checks import MfaRefused, check_totp
from selfiam.service.passkeys import COUNTER_REGRESSION, PasskeyRefused
from selfiam.service.passwords import (
    SignIn,
    audit_signin,
    effective_policy,
    login_profile,
    verify_login,
)
from selfiam.service.portal_sessions import (
    PortalConfig,
    PortalSession,
    create_session,
    load_session,
)
from selfiam.service.throttle import THROTTLED_CODE
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime

MAX_FAILURES = throttle.SIGN_IN.max_failures
FAILURE_WINDOW = throttle.SIGN_IN.first_lockout
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


def _subjects(account: str, user_name: str, source_ip: str) -> list[throttle.Subject]:
    """What an attempt counts against, in the order their rows are locked."""
    return [throttle.user_subject(account, user_name), throttle.address_subject(source_ip)]


def _reserve(runtime: Runtime, subjects: list[throttle.Subject], now: datetime) -> bool:
    with transaction(runtime.engine) as conn:
        return throttle.reserve(conn, throttle.SIGN_IN, subjects, now)


def _settle(runtime: Runtime, subjects: list[throttle.Subject], now: datetime, ok: bool) -> None:
    with transaction(runtime.engine) as conn:
        throttle.settle(conn, throttle.SIGN_IN, subjects, now, ok)


def _has_mfa(conn: Connection, user_id: str) -> bool:
    """A virtual MFA device or a passkey."""
    return any(
        conn.execute(select(table.c.serial_number).where(table.c.user_id == user_id)).first()
        for table in (t.mfa_devices, t.passkeys)
    )


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
    if not _reserve(runtime, subjects, now):
        audit_signin(runtime, account_id, None, now, THROTTLED_CODE, source_ip, user_agent or None)
        raise SignInRefused(THROTTLED)
    checked: SignIn | None = None
    if account_id is None or not user_name or len(user_name) > MAX_NAME:
        runtime.hasher.verify_dummy(password)
    else:
        checked = verify_login(
            runtime,
            account_id,
            user_name,
            password,
            now,
            source_ip=source_ip,
            user_agent=user_agent,
        )
    _settle(runtime, subjects, now, checked is not None)
    if checked is None or account_id is None:
        raise SignInRefused(INCORRECT)
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
    code = code.strip().replace(" ", "")
    return complete_mfa_with(
        runtime,
        config,
        session,
        lambda conn: check_totp(conn, runtime.box, session.user_id, None, code, now),
        now,
        source_ip=source_ip,
    )


def complete_mfa_with(
    runtime: Runtime,
    config: PortalConfig,
    session: PortalSession,
    check: Callable[[Connection], object],
    now: datetime,
    *,
    source_ip: str = "",
    refusal: str = INVALID_MFA,
) -> SignedIn:
    """The second step with ``check`` (a TOTP code, a passkey's assertion), which raises
    MfaRefused; the attempt counts against the user name and the source address."""
    if session.stage != "mfa":
        raise SignInRefused(INCORRECT)
    subjects = _subjects(session.account_id, session.user_name, source_ip)
    ps = t.portal_sessions
    token: str | None = None
    audit_code = "InvalidAuthenticationCode"
    with transaction(runtime.engine) as conn:
        # One transaction: the reservation, the check and its outcome commit together.
        ok = False
        if throttle.reserve(conn, throttle.SIGN_IN, subjects, now):
            try:
                check(conn)
                ok = True
            except MfaRefused as refused:
                if refused.locked:
                    audit_code = THROTTLED_CODE
                elif isinstance(refused, PasskeyRefused) and refused.regression:
                    audit_code = COUNTER_REGRESSION
            throttle.settle(conn, throttle.SIGN_IN, subjects, now, ok)
        else:
            refusal, audit_code = THROTTLED, THROTTLED_CODE
        if ok:
            conn.execute(ps.delete().where(ps.c.session_id == session.session_id))
            token = open_mfa_session(conn, config, session.account_id, session.user_id, now)
    return finish_mfa(
        runtime, config, token, now, refusal, audit_code, session.account_id, session.arn, source_ip
    )


def open_mfa_session(
    conn: Connection, config: PortalConfig, account_id: str, user_id: str, now: datetime
) -> str | None:
    """Open the session an MFA sign-in earns (stage "password" if the password must be
    changed first); None if the user has no login profile any more."""
    profile = login_profile(conn, user_id)
    if profile is None:
        return None
    policy = effective_policy(conn, account_id)
    must_change = bool(profile.password_reset_required) or policy.is_expired(
        profile.password_changed_at, now
    )
    return create_session(
        conn,
        account_id=account_id,
        user_id=user_id,
        stage="password" if must_change else "active",
        now=now,
        config=config,
        password_changed_at=profile.password_changed_at,
        mfa_authenticated_at=now,
    )


def finish_mfa(
    runtime: Runtime,
    config: PortalConfig,
    token: str | None,
    now: datetime,
    refusal: str,
    audit_code: str | None,
    account_id: str | None,
    arn: str | None,
    source_ip: str,
) -> SignedIn:
    """Audit an MFA sign-in step; the new session, or SignInRefused(``refusal``)."""
    if token is None:
        audit_mfa(runtime, account_id, arn, now, audit_code or "AccessDenied", source_ip)
        raise SignInRefused(refusal)
    signed = load_session(runtime, token, now, config)
    audit_mfa(runtime, account_id, signed.arn if signed else arn, now, None, source_ip)
    if signed is None:
        raise SignInRefused(INCORRECT)
    return SignedIn(token, signed)


def audit_mfa(
    runtime: Runtime,
    account_id: str | None,
    arn: str | None,
    now: datetime,
    error_code: str | None,
    source_ip: str,
) -> None:
    runtime.audit.submit(
        AuditRecord(
            at=now,
            request_id=new_request_id(),
            account_id=account_id,
            caller_arn=arn,
            action="signin:ConsoleLoginMFA",
            resource=arn,
            decision="allowed" if error_code is None else "error",
            error_code=error_code,
            source_ip=source_ip or None,
            user_agent=None,
        )
    )
