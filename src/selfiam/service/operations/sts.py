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
from datetime import timedelta
from typing import Any

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
    now = ctx.info.now
    expires = now + timedelta(seconds=duration)
    key_id = new_temporary_access_key_id()
    secret = new_secret_access_key()
    token = new_session_token()
    s = t.sts_sessions
    # Sessions of this user that have expired are of no further use: drop them.
    ctx.conn.execute(s.delete().where(s.c.user_id == caller.user_id, s.c.expires_at <= now))
    ctx.conn.execute(
        s.insert().values(
            access_key_id=key_id,
            account_id=caller.account_id,
            user_id=caller.user_id,
            secret_ciphertext=ctx.runtime.box.seal(secret.encode(), key_id.encode()),
            session_token_sha256=session_token_digest(token),
            mfa_authenticated_at=mfa_at,
            mfa_serial_number=str(serial) if serial is not None else None,
            created_at=now,
            expires_at=expires,
        )
    )
    return {
        "Credentials": {
            "AccessKeyId": key_id,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": expires,
        }
    }
