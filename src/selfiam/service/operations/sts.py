"""STS: who am I (GetCallerIdentity), and temporary credentials (GetSessionToken).

Neither is controlled by policies, as in AWS: GetCallerIdentity is never
denied, and "no permissions are required for a user to get a session token"
— its purpose is to authenticate, and policies do not control authentication.

GetSessionToken's credentials carry the user's permissions; with SerialNumber
and TokenCode (a code from the user's own enabled MFA device) they also carry
the MFA facts (``aws:MultiFactorAuthPresent``, ``aws:MultiFactorAuthAge``).
Only the SHA-256 of the session token is stored, and the secret is sealed with
the access key id as associated data. Codes are checked, and failures counted per
device, by :func:`selfiam.service.mfa_checks.check_totp`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.errors import AccessDenied, ValidationError
from selfiam.domain.identifiers import (
    new_secret_access_key,
    new_session_token,
    new_temporary_access_key_id,
)
from selfiam.service.context import OperationContext
from selfiam.service.mfa_checks import MfaRefused, check_totp
from selfiam.service.registry import operation
from selfiam.store import tables as t

DEFAULT_DURATION = 43200
SESSION_CREDENTIALS = "Cannot call GetSessionToken with session credentials"
INVALID_PASS_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."
# AWS's wording, two spaces included.
UNKNOWN_DEVICE = (
    "MultiFactorAuthentication failed, unable to validate MFA code.  "
    "Please verify your MFA serial number is valid and associated with this user."
)


def session_token_digest(token: str) -> str:
    """What is stored of a session token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TemporaryCredentials:
    """A new temporary access key (ASIA...), its secret and session token, and their
    lifetime: what GetSessionToken, GetFederationToken and the AssumeRole family issue."""

    access_key_id: str
    secret: str = field(repr=False)
    token: str = field(repr=False)
    created_at: datetime
    expires_at: datetime

    def stored(self, box: SecretBox) -> dict[str, Any]:
        """The columns every session table keeps of them: the secret sealed with the
        access key id as associated data, and only the SHA-256 of the session token."""
        return {
            "access_key_id": self.access_key_id,
            "secret_ciphertext": box.seal(self.secret.encode(), self.access_key_id.encode()),
            "session_token_sha256": session_token_digest(self.token),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }

    def answer(self) -> dict[str, Any]:
        """The model's Credentials structure (the secret shown this once)."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret,
            "SessionToken": self.token,
            "Expiration": self.expires_at,
        }


def store_user_session(
    ctx: OperationContext,
    table: Table,
    user_id: str,
    creds: TemporaryCredentials,
    **columns: Any,
) -> None:
    """Store a session a user started in ``table`` (``sts_sessions``,
    ``federation_sessions``) with ``columns``; that user's expired sessions there are of
    no further use, so they are dropped first."""
    ctx.conn.execute(
        table.delete().where(table.c.user_id == user_id, table.c.expires_at <= creds.created_at)
    )
    ctx.conn.execute(
        table.insert().values(user_id=user_id, **columns, **creds.stored(ctx.runtime.box))
    )


def new_credentials(ctx: OperationContext, duration: int) -> TemporaryCredentials:
    """Fresh temporary credentials valid for ``duration`` seconds from now."""
    now = ctx.info.now
    return TemporaryCredentials(
        new_temporary_access_key_id(),
        new_secret_access_key(),
        new_session_token(),
        now,
        now + timedelta(seconds=duration),
    )


@operation("GetCallerIdentity", service="sts", writes=False, authorized=False)
def get_caller_identity(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Who the caller is. AWS never denies it, even under an explicit Deny."""
    caller = ctx.caller
    return {
        "UserId": caller.unique_id,
        "Account": caller.account_id,
        "Arn": caller.arn,
    }


@operation("GetSessionToken", service="sts", authorized=False)
def get_session_token(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Temporary credentials for the calling user, with MFA facts if a code was given."""
    caller = ctx.caller
    if caller.is_temporary:
        raise AccessDenied(SESSION_CREDENTIALS)
    if caller.user_id is None:
        # AWS gives the root at most an hour; selfiam's root acts only through the CLI
        # and holds no keys to sign requests with, so it has no use for a session.
        raise AccessDenied("selfiam issues session credentials to IAM users only.")
    duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
    serial, code = params.get("SerialNumber"), params.get("TokenCode")
    if code is not None and serial is None:
        raise ValidationError("TokenCode requires SerialNumber: the MFA device it comes from.")
    mfa_at = None
    if serial is not None:
        if code is None:
            raise AccessDenied(INVALID_PASS_CODE)
        try:
            check_totp(ctx, ctx.runtime.box, caller.user_id, str(serial), str(code), ctx.info.now)
        except MfaRefused as refused:
            raise AccessDenied(UNKNOWN_DEVICE if refused.unknown else INVALID_PASS_CODE) from None
        mfa_at = ctx.info.now
    creds = new_credentials(ctx, duration)
    store_user_session(
        ctx,
        t.sts_sessions,
        caller.user_id,
        creds,
        account_id=caller.account_id,
        mfa_authenticated_at=mfa_at,
        mfa_serial_number=str(serial) if serial is not None else None,
    )
    return {"Credentials": creds.answer()}
