"""Signing in to the portal with a passkey: as the MFA step after the password, or
alone (passwordless) where the account's admin turned that on.

Both open an MFA session (``mfa_authenticated_at`` is the assertion's time), so the
policy engine sees ``aws:MultiFactorAuthPresent`` as after a TOTP code. Each attempt
is reserved in the sign-in throttle before the assertion is checked (the MFA step:
per user name and source address, as a TOTP code; passwordless: per source address,
since the user is known only from the credential) and counted per credential
(:func:`selfiam.service.passkeys.check_assertion`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import user_arn
from selfiam.service import throttle
from selfiam.service.passkeys import (
    COUNTER_REGRESSION,
    PasskeyRefused,
    RelyingParty,
    authentication_options,
    check_assertion,
    new_challenge,
    passwordless_enabled,
    registration_options,
    take_challenge,
)
from selfiam.service.portal_sessions import PortalConfig, PortalSession
from selfiam.service.portal_signin import (
    THROTTLED,
    SignedIn,
    complete_mfa_with,
    finish_mfa,
    open_mfa_session,
)
from selfiam.service.throttle import THROTTLED_CODE
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime

INVALID_PASSKEY = "The passkey was not accepted. Use a passkey registered for your user."
NOT_ENABLED = "Sign-in with a passkey alone is not turned on for this account."


def session_binding(session: PortalSession) -> str:
    return f"session:{session.session_id}"


def signin_binding(nonce: str) -> str:
    """Before sign-in, a challenge is bound to the sign-in nonce cookie (by its hash)."""
    return "signin:" + hashlib.sha256(nonce.encode()).hexdigest()


def device_kinds(runtime: Runtime, user_id: str) -> tuple[bool, bool]:
    """Whether the user has (a virtual MFA device, a passkey)."""
    with read_transaction(runtime.engine) as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                select(table.c.serial_number).where(table.c.user_id == user_id).limit(1)
            ).first()
            is not None
            for table in (t.mfa_devices, t.passkeys)
        )


def begin_registration(
    runtime: Runtime, session: PortalSession, rp: RelyingParty, label: str, now: datetime
) -> str:
    """A challenge for a new passkey named ``label``, bound to this session: the options."""
    with transaction(runtime.engine) as conn:
        challenge = new_challenge(conn, session_binding(session), "register", now, label=label)
        return registration_options(conn, rp, session.user_id, session.user_name, challenge)


def begin_mfa(runtime: Runtime, session: PortalSession, rp: RelyingParty, now: datetime) -> str:
    """A challenge for the MFA step, bound to this half-signed-in session: the options."""
    with transaction(runtime.engine) as conn:
        challenge = new_challenge(conn, session_binding(session), "mfa", now)
        return authentication_options(conn, rp, session.user_id, challenge)


def complete_mfa_passkey(
    runtime: Runtime,
    config: PortalConfig,
    session: PortalSession,
    credential_json: str,
    rp: RelyingParty,
    now: datetime,
    *,
    source_ip: str = "",
) -> SignedIn:
    """The MFA step with a passkey of the session's user."""

    def check(conn: Connection) -> object:
        taken = take_challenge(conn, session_binding(session), "mfa", now)
        if taken is None:
            raise PasskeyRefused()
        return check_assertion(conn, credential_json, taken[0], rp, now, user_id=session.user_id)

    return complete_mfa_with(
        runtime, config, session, check, now, source_ip=source_ip, refusal=INVALID_PASSKEY
    )


def begin_passwordless(runtime: Runtime, nonce: str, rp: RelyingParty, now: datetime) -> str:
    with transaction(runtime.engine) as conn:
        challenge = new_challenge(conn, signin_binding(nonce), "passwordless", now)
        return authentication_options(conn, rp, None, challenge)


def sign_in_passwordless(
    runtime: Runtime,
    config: PortalConfig,
    nonce: str,
    credential_json: str,
    rp: RelyingParty,
    now: datetime,
    *,
    source_ip: str = "",
) -> SignedIn:
    """Sign in with a discoverable passkey alone (user verification required), if the
    passkey's account allows it."""
    subjects = [throttle.address_subject(source_ip)]
    token: str | None = None
    refusal, audit_code = INVALID_PASSKEY, "InvalidAuthenticationCode"
    account_id: str | None = None
    arn: str | None = None
    with transaction(runtime.engine) as conn:
        if not throttle.reserve(conn, throttle.SIGN_IN, subjects, now):
            refusal, audit_code = THROTTLED, THROTTLED_CODE
        else:
            ok = False
            taken = take_challenge(conn, signin_binding(nonce), "passwordless", now)
            try:
                if taken is None:
                    raise PasskeyRefused()
                row = check_assertion(conn, credential_json, taken[0], rp, now, user_id=None)
                ok = True
                account_id = row.account_id
                users = t.users
                user = conn.execute(users.select().where(users.c.user_id == row.user_id)).first()
                arn = user_arn(row.account_id, user.name, user.path) if user else None
                if not passwordless_enabled(conn, row.account_id):
                    refusal, audit_code = NOT_ENABLED, "AccessDenied"
                else:
                    token = open_mfa_session(conn, config, row.account_id, row.user_id, now)
            except PasskeyRefused as refused:
                if refused.locked:
                    audit_code = THROTTLED_CODE
                elif refused.regression:
                    audit_code = COUNTER_REGRESSION
            throttle.settle(conn, throttle.SIGN_IN, subjects, now, ok)
    return finish_mfa(runtime, config, token, now, refusal, audit_code, account_id, arn, source_ip)
