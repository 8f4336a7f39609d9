"""Passkeys and FIDO security keys (WebAuthn) as MFA devices: challenges and checks.

The WebAuthn ceremonies are checked by py_webauthn; this module decides what they
are checked against and keeps the state that makes them safe:

* a challenge is 32 random bytes, stored server-side (``webauthn_challenges``) bound
  to one portal session (or, before sign-in, to the sign-in nonce cookie) and one
  purpose, replaced by the next one of the same binding and purpose, taken (deleted)
  by the first response that names it whatever the outcome, and refused after
  :data:`CHALLENGE_TTL`;
* the origin and the RP ID are the portal's (``selfiam serve --public-url``, or the
  request's host), so a response made for another site is refused;
* attestation is "none": the server asks for none and accepts what it gets (a key's
  make cannot be trusted without a vendor metadata service, which selfiam does not
  ship); the credential's public key is what is kept;
* user verification: *preferred* when a passkey is a second factor (the password
  was the first; a security key without a PIN still proves possession), *required*
  when it is the only factor (passwordless sign-in: the PIN or biometric is the
  second factor);
* the signature counter: a counter that is not above the stored one (when either is
  non-zero) means a cloned authenticator; the assertion is refused, counted as a
  failure and audited (``SignatureCounterRegression``);
* every assertion is counted per credential in ``secret_throttles`` (scope "mfa",
  the serial number as subject), with the TOTP devices' limits
  (:data:`selfiam.service.mfa_checks.MFA`), under a lock on the credential's row.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_authenticator_data
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from selfiam.service import throttle
from selfiam.service.mfa_checks import MFA, MfaRefused, device_subject
from selfiam.store import tables as t

CHALLENGE_TTL = timedelta(minutes=5)
CHALLENGE_BYTES = 32
#: Expired challenges deleted per new challenge (bounded work).
PRUNE_BATCH = 10
SERIAL_SUFFIX = 26  # AWS's u2f serials end in a dash and 26 upper-case letters and digits
RP_NAME = "selfiam"
COUNTER_REGRESSION = "SignatureCounterRegression"
MAX_CREDENTIAL_JSON = 8 * 1024


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who the credentials are for: the RP ID (a host name) and the expected origin."""

    rp_id: str
    origin: str

    @classmethod
    def from_url(cls, url: str) -> RelyingParty:
        """``https://iam.example.com`` or ``http://localhost:8080``: the host is the RP ID."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        return cls(rp_id=host, origin=origin)


class PasskeyRefused(MfaRefused):
    """An assertion was not accepted; ``regression``: its signature counter went back."""

    def __init__(
        self, *, locked: bool = False, unknown: bool = False, regression: bool = False
    ) -> None:
        super().__init__(locked=locked, unknown=unknown)
        self.regression = regression


def passkey_serial(account_id: str, user_name: str, label: str) -> str:
    """``arn:aws:iam::ACCOUNT:u2f/user/NAME/LABEL-XXXXXXXXXXXXXXXXXXXXXXXXXX`` (AWS's form)."""
    suffix = base64.b32encode(secrets.token_bytes(20)).decode()[:SERIAL_SUFFIX]
    return f"arn:aws:iam::{account_id}:u2f/user/{user_name}/{label}-{suffix}"


def is_passkey_serial(serial: str) -> bool:
    return ":u2f/" in serial


# -- challenges ----------------------------------------------------------------------------


def new_challenge(
    conn: Connection, binding: str, purpose: str, now: datetime, *, label: str | None = None
) -> bytes:
    """Store a fresh challenge for ``binding`` and ``purpose`` (replacing any earlier one)."""
    c = t.webauthn_challenges
    # Skip rows another transaction holds (it is taking that challenge): a prune never waits.
    expired = (
        select(c.c.binding, c.c.purpose)
        .where(c.c.expires_at <= now)
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    for row in conn.execute(expired).all():
        conn.execute(c.delete().where(c.c.binding == row.binding, c.c.purpose == row.purpose))
    conn.execute(c.delete().where(c.c.binding == binding, c.c.purpose == purpose))
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    conn.execute(
        c.insert().values(
            binding=binding,
            purpose=purpose,
            challenge=bytes_to_base64url(challenge),
            label=label,
            expires_at=now + CHALLENGE_TTL,
        )
    )
    return challenge


def take_challenge(
    conn: Connection, binding: str, purpose: str, now: datetime
) -> tuple[bytes, str | None] | None:
    """The live challenge of ``binding`` and ``purpose`` and its label, deleted: a
    challenge answers one response. None if there is none or it expired."""
    c = t.webauthn_challenges
    where = (c.c.binding == binding, c.c.purpose == purpose)
    row = conn.execute(select(c).where(*where).with_for_update()).first()
    if row is None:
        return None
    conn.execute(c.delete().where(*where))
    if row.expires_at <= now:
        return None
    return base64url_to_bytes(row.challenge), row.label


# -- options the browser gets ---------------------------------------------------------------


def registration_options(
    conn: Connection, rp: RelyingParty, user_id: str, user_name: str, challenge: bytes
) -> str:
    """The JSON for ``navigator.credentials.create``: a discoverable credential preferred
    (so it can serve passwordless sign-in), the user's credentials excluded."""
    p = t.passkeys
    existing = conn.execute(select(p.c.credential_id).where(p.c.user_id == user_id)).scalars()
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=RP_NAME,
        user_id=user_id.encode(),
        user_name=user_name,
        challenge=challenge,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(cid)) for cid in existing
        ],
    )
    return options_to_json(options)


def authentication_options(
    conn: Connection, rp: RelyingParty, user_id: str | None, challenge: bytes
) -> str:
    """The JSON for ``navigator.credentials.get``: the user's credentials (MFA step), or
    none at all (passwordless: the authenticator offers its discoverable ones)."""
    allowed: list[PublicKeyCredentialDescriptor] = []
    if user_id is not None:
        p = t.passkeys
        ids = conn.execute(
            select(p.c.credential_id).where(p.c.user_id == user_id, p.c.rp_id == rp.rp_id)
        ).scalars()
        allowed = [PublicKeyCredentialDescriptor(id=base64url_to_bytes(cid)) for cid in ids]
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=challenge,
        allow_credentials=allowed,
        user_verification=(
            UserVerificationRequirement.PREFERRED
            if user_id is not None
            else UserVerificationRequirement.REQUIRED
        ),
    )
    return options_to_json(options)


# -- registration --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewCredential:
    credential_id: str
    public_key: bytes
    sign_count: int
    discoverable: bool


def _parse(credential_json: str) -> dict[str, Any] | None:
    if len(credential_json) > MAX_CREDENTIAL_JSON:
        return None
    try:
        value = json.loads(credential_json)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def verify_registration(
    credential_json: str, challenge: bytes, rp: RelyingParty
) -> NewCredential | None:
    """The new credential if the browser's answer to ``challenge`` is valid for ``rp``."""
    credential = _parse(credential_json)
    if credential is None:
        return None
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError):
        return None
    props = credential.get("clientExtensionResults", {}).get("credProps", {})
    return NewCredential(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        discoverable=bool(props.get("rk", False)) if isinstance(props, dict) else False,
    )


# -- assertions ----------------------------------------------------------------------------


def credential_id_of(credential_json: str) -> str | None:
    credential = _parse(credential_json)
    raw = credential.get("rawId", credential.get("id")) if credential is not None else None
    return raw if isinstance(raw, str) and 0 < len(raw) <= 1400 else None


def check_assertion(
    conn: Connection,
    credential_json: str,
    challenge: bytes,
    rp: RelyingParty,
    now: datetime,
    *,
    user_id: str | None,
) -> Row[Any]:
    """Accept the browser's assertion once and return the passkey's row (its counter and
    last use updated); raise :class:`PasskeyRefused`.

    With ``user_id``, the credential must be that user's (the MFA step); without, any
    credential of this RP with user verification (passwordless). The caller commits
    the transaction whatever the outcome, so the count holds.
    """
    credential_id = credential_id_of(credential_json)
    p = t.passkeys
    row = None
    if credential_id is not None:
        row = conn.execute(
            select(p).where(p.c.credential_id == credential_id).with_for_update()
        ).first()
    if row is None or row.rp_id != rp.rp_id or (user_id is not None and row.user_id != user_id):
        raise PasskeyRefused(unknown=True)
    subject = device_subject(row.serial_number)
    admitted = throttle.admit(throttle.load(conn, subject, now), MFA, now)
    if admitted is None:
        throttle.prune(conn, now, ["mfa"])
        raise PasskeyRefused(locked=True)
    new_count = _verified_count(credential_json, challenge, rp, row, user_id is None)
    regression = new_count is not None and (
        (new_count > 0 or row.sign_count > 0) and new_count <= row.sign_count
    )
    ok = new_count is not None and not regression
    throttle.store(conn, subject, throttle.record(admitted, MFA, now, ok, forgive=True), MFA, now)
    throttle.prune(conn, now, ["mfa"])
    if not ok:
        raise PasskeyRefused(regression=regression)
    conn.execute(
        p.update()
        .where(p.c.serial_number == row.serial_number)
        .values(sign_count=new_count, last_used_at=now)
    )
    return row


def _verified_count(
    credential_json: str, challenge: bytes, rp: RelyingParty, row: Row[Any], require_uv: bool
) -> int | None:
    """The assertion's signature counter if its signature, challenge, origin and RP ID are
    right (the counter itself is compared by the caller, so a regression is told apart)."""
    credential = _parse(credential_json)
    if credential is None:
        return None
    try:
        verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=row.public_key,
            credential_current_sign_count=0,
            require_user_verification=require_uv,
        )
        data = base64url_to_bytes(credential["response"]["authenticatorData"])
        return int(parse_authenticator_data(data).sign_count)
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError):
        return None


def forget_passkey(conn: Connection, serial: str) -> None:
    """The passkey is removed: its count goes with it."""
    throttle.forget(conn, device_subject(serial))


# -- the account's setting -----------------------------------------------------------------


def passwordless_enabled(conn: Connection, account_id: str) -> bool:
    s = t.account_settings
    value = conn.execute(
        select(s.c.passwordless_sign_in).where(s.c.account_id == account_id)
    ).scalar_one_or_none()
    return bool(value)
