"""Registering a passkey or security key, and the account's passwordless setting.

AWS has no API to register a FIDO device (its console does it); selfiam's portal
does it through ``selfiam:RegisterPasskey``, which is authorized as AWS authorizes
the console's: ``iam:EnableMFADevice`` on the user's ARN, so the SelfService policy
that lets a member enable their own TOTP device lets them add their own passkey, and
nobody else's. The device is then listed, described and removed through IAM's own
MFA operations (:mod:`selfiam.service.operations.mfa`).

``selfiam:UpdateAccountSignInSettings`` turns passwordless sign-in with a
discoverable passkey on or off for the caller's account, and
``selfiam:GetAccountSignInSettings`` reads it. Like ``selfiam:ReadAuditLog`` they
have no resource type (authorized on ``*``): only a policy that names them, or allows
``*``, opens them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from selfiam.domain.errors import EntityAlreadyExists, InvalidAuthenticationCode, ValidationError
from selfiam.service.context import OperationContext
from selfiam.service.lookup import no_such_user
from selfiam.service.operations.mfa import check_device_quota
from selfiam.service.operations.users import authorize_user
from selfiam.service.passkeys import (
    RelyingParty,
    passkey_serial,
    take_challenge,
    verify_registration,
)
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_account_row, lock_user_row

SERVICE = "selfiam"
LABEL = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
LABEL_RULE = (
    "The passkey's name must be 1 to 64 letters, digits or any of + = , . @ _ - (no spaces)."
)
INVALID_RESPONSE = "The passkey's response is not valid. Try again."


def valid_label(label: str) -> bool:
    return LABEL.fullmatch(label) is not None


@operation("RegisterPasskey", service=SERVICE)
def register_passkey(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Params: UserName, Binding (what the challenge is bound to), RpId, Origin and
    Credential (the browser's JSON). The challenge's label names the passkey.
    Answers its SerialNumber."""
    name = str(params["UserName"])
    user = authorize_user(ctx, name, action="iam:EnableMFADevice")
    if not lock_user_row(ctx.conn, user.user_id):
        raise no_such_user(name)
    check_device_quota(ctx.conn, user.user_id)
    rp = RelyingParty(rp_id=str(params["RpId"]), origin=str(params["Origin"]))
    taken = take_challenge(ctx.conn, str(params["Binding"]), "register", ctx.info.now)
    ctx.commit_on_error = True  # the challenge is used up whatever happens next
    if taken is None:
        raise InvalidAuthenticationCode(INVALID_RESPONSE)
    challenge, label = taken
    if label is None or not valid_label(label):
        raise ValidationError(LABEL_RULE)
    new = verify_registration(str(params["Credential"]), challenge, rp)
    if new is None:
        raise InvalidAuthenticationCode(INVALID_RESPONSE)
    p = t.passkeys
    if ctx.conn.execute(
        select(p.c.serial_number).where(p.c.credential_id == new.credential_id)
    ).first():
        raise EntityAlreadyExists("This passkey is already registered.")
    if ctx.conn.execute(
        select(p.c.serial_number).where(p.c.user_id == user.user_id, p.c.label == label)
    ).first():
        raise EntityAlreadyExists(f"You already have a passkey named {label}.")
    serial = passkey_serial(ctx.account_id, user.name, label)
    ctx.conn.execute(
        p.insert().values(
            serial_number=serial,
            account_id=ctx.account_id,
            user_id=user.user_id,
            label=label,
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            discoverable=new.discoverable,
            rp_id=rp.rp_id,
            enabled_at=ctx.info.now,
        )
    )
    ctx.commit_on_error = False
    ctx.changed_credentials()
    return {"SerialNumber": serial}


@operation("GetAccountSignInSettings", service=SERVICE, writes=False)
def get_sign_in_settings(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    s = t.account_settings
    value = ctx.conn.execute(
        select(s.c.passwordless_sign_in).where(s.c.account_id == ctx.account_id)
    ).scalar_one_or_none()
    return {"PasswordlessSignIn": bool(value)}


@operation("UpdateAccountSignInSettings", service=SERVICE)
def update_sign_in_settings(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Param PasswordlessSignIn (bool): members may sign in with a discoverable passkey
    alone (user verification required), still an MFA sign-in."""
    ctx.authorize("*")
    raw = params.get("PasswordlessSignIn")
    if not isinstance(raw, bool):
        raise ValidationError("PasswordlessSignIn must be true or false.")
    lock_account_row(ctx.conn, ctx.account_id)
    s = t.account_settings
    updated = ctx.conn.execute(
        s.update().where(s.c.account_id == ctx.account_id).values(passwordless_sign_in=raw)
    ).rowcount
    if updated == 0:
        ctx.conn.execute(s.insert().values(account_id=ctx.account_id, passwordless_sign_in=raw))
    ctx.changed_credentials()
    return {"PasswordlessSignIn": raw}
