"""Console passwords: login profiles (admin work) and ChangePassword (the caller's own).

Passwords are argon2id hashes at rest and never appear in a response, an
error message or the audit trail. Every per-user operation is authorized
against the user's ARN. Setting a password checks it against the account's
policy (or IAM's default one) and reuse prevention, records
``password_changed_at`` (MaxPasswordAge counts from it) and bumps the auth
version, so that portal sessions opened with the old password can be ended.
ChangePassword's OldPassword shares the portal's sign-in throttle per user name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from selfiam.domain.arns import root_arn, user_arn
from selfiam.domain.errors import (
    AccessDenied,
    AwsError,
    EntityAlreadyExists,
    EntityTemporarilyUnmodifiable,
    InvalidInput,
    InvalidUserType,
    NoSuchEntity,
    ValidationError,
)
from selfiam.service import throttle
from selfiam.service.context import OperationContext
from selfiam.service.lookup import no_such_user, target_user_name
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.users import authorize_user
from selfiam.service.passwords import (
    authorize_with_account_grant,
    check_new_password,
    custom_policy,
    effective_policy,
    login_profile,
    remember_password,
)
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_user_row


def no_such_profile(user_name: str) -> AwsError:
    return NoSuchEntity(f"Login Profile for User {user_name} cannot be found.")


def _profile_shape(user_name: str, row: Row[Any]) -> dict[str, Any]:
    return {
        "UserName": user_name,
        "CreateDate": row.created_at,
        "PasswordResetRequired": bool(row.password_reset_required),
    }


def _refuse_session_duration(params: Mapping[str, Any]) -> None:
    if params.get("MaxSigninSessionDuration") is not None or params.get(
        "ResetMaxSigninSessionDuration"
    ):
        raise InvalidInput("MaxSigninSessionDuration is not supported by selfiam.")


def _locked_user(ctx: OperationContext, params: Mapping[str, Any]) -> Row[Any]:
    name = target_user_name(ctx, params)
    user = authorize_user(ctx, name)
    if not lock_user_row(ctx.conn, user.user_id):  # deleted since it was read
        raise no_such_user(name)
    return user


def _set_password(ctx: OperationContext, user: Row[Any], password: str) -> str:
    """Check ``password`` against the policy and history; return its new hash."""
    policy = effective_policy(ctx.conn, ctx.account_id)
    hasher = ctx.runtime.hasher
    check_new_password(ctx.conn, hasher, policy, user.user_id, user.name, password)
    password_hash = hasher.hash(password)
    remember_password(ctx.conn, policy, user.user_id, password_hash, ctx.info.now)
    return password_hash


@operation("CreateLoginProfile")
def create_login_profile(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    user = _locked_user(ctx, params)
    _refuse_session_duration(params)
    password = params.get("Password")
    if not password:
        # AWS omits it only for AssumeRoot sessions, which selfiam does not have.
        raise ValidationError("Password is required to create a login profile.")
    if login_profile(ctx.conn, user.user_id) is not None:
        raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.")
    reset = bool(params.get("PasswordResetRequired", False))
    now = ctx.info.now
    password_hash = _set_password(ctx, user, str(password))
    try:
        ctx.conn.execute(
            t.login_profiles.insert().values(
                user_id=user.user_id,
                password_hash=password_hash,
                password_reset_required=reset,
                created_at=now,
                password_changed_at=now,
            )
        )
    except IntegrityError:
        raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.") from None
    ctx.changed_credentials(user_id=user.user_id)
    return {
        "LoginProfile": {"UserName": user.name, "CreateDate": now, "PasswordResetRequired": reset}
    }


@operation("GetLoginProfile", writes=False)
def get_login_profile(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    user = authorize_user(ctx, target_user_name(ctx, params))
    row = login_profile(ctx.conn, user.user_id)
    if row is None:
        raise no_such_profile(user.name)
    return {"LoginProfile": _profile_shape(user.name, row)}


@operation("UpdateLoginProfile")
def update_login_profile(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """An admin sets a user's password and/or PasswordResetRequired."""
    user = _locked_user(ctx, params)
    _refuse_session_duration(params)
    if login_profile(ctx.conn, user.user_id) is None:
        raise no_such_profile(user.name)
    values: dict[str, Any] = {}
    if params.get("Password"):
        values["password_hash"] = _set_password(ctx, user, str(params["Password"]))
        values["password_changed_at"] = ctx.info.now
    if params.get("PasswordResetRequired") is not None:
        values["password_reset_required"] = bool(params["PasswordResetRequired"])
    if values:
        ctx.conn.execute(
            t.login_profiles.update()
            .where(t.login_profiles.c.user_id == user.user_id)
            .values(**values)
        )
        ctx.changed_credentials(user_id=user.user_id)
    return {}


@operation("DeleteLoginProfile", light=True)
def delete_login_profile(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Remove a user's console access. The password history (hashes only) stays, so a
    new profile cannot bring back a recently used password."""
    user = _locked_user(ctx, params)
    deleted = ctx.conn.execute(
        t.login_profiles.delete().where(t.login_profiles.c.user_id == user.user_id)
    ).rowcount
    if not deleted:
        raise no_such_profile(user.name)
    ctx.changed_credentials(user_id=user.user_id)
    return {}


def _check_old_password(
    ctx: OperationContext, user: Row[Any], profile: Row[Any], password: str
) -> None:
    """Check the caller's current password, counted against the portal's sign-in
    throttle for their user name (a wrong one here is a sign-in guess too).

    While the user name is locked out the password is not checked, and the answer is
    EntityTemporarilyUnmodifiable: of the errors AWS documents for ChangePassword it
    is the one that means "try again after waiting several minutes" (LimitExceeded
    is about account quotas, which waiting does not change).
    """
    now = ctx.info.now
    subjects = [throttle.user_subject(ctx.account_id, user.name)]
    if not throttle.reserve(ctx.conn, throttle.SIGN_IN, subjects, now):
        ctx.audit_error_code = throttle.THROTTLED_CODE
        raise EntityTemporarilyUnmodifiable(
            f"Too many incorrect passwords for user {user.name}: "
            "wait a few minutes, then try again."
        )
    ok = ctx.runtime.hasher.verify(profile.password_hash, password)
    throttle.settle(ctx.conn, throttle.SIGN_IN, subjects, now, ok)
    if not ok:
        ctx.commit_on_error = True  # the failure counts; nothing else was written
        raise AccessDenied("The old password is incorrect.")


@operation("ChangePassword")
def change_password(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """The caller changes their own password; there is no UserName to aim it elsewhere.

    Allowed by ``iam:ChangePassword`` on the caller's own ARN, or by the
    account policy's AllowUsersToChangePassword. A wrong OldPassword is
    AccessDenied. With HardExpiry, an expired password cannot be changed from
    a portal session (AWS: only with access keys, through the API).
    """
    caller = ctx.caller
    policy = custom_policy(ctx.conn, ctx.account_id)
    if caller.is_root or caller.user_id is None:
        ctx.authorize(root_arn(ctx.account_id))
        raise InvalidUserType("Only IAM users can change their own password with ChangePassword.")
    u = t.users
    user = ctx.conn.execute(u.select().where(u.c.user_id == caller.user_id)).first()
    name = user.name if user is not None else str(caller.user_name)
    arn = user_arn(ctx.account_id, name, user.path) if user is not None else caller.arn
    tags = tagging.load_tags(ctx.conn, "user", caller.user_id) if user is not None else None
    authorize_with_account_grant(ctx, arn, policy, resource_tags=tags)
    if user is None or not lock_user_row(ctx.conn, user.user_id):
        raise no_such_user(name)
    profile = login_profile(ctx.conn, user.user_id)
    if profile is None:
        raise no_such_profile(user.name)
    _check_old_password(ctx, user, profile, str(params["OldPassword"]))
    effective = policy or effective_policy(ctx.conn, ctx.account_id)
    portal_session = caller.access_key_id is None
    expired = effective.is_expired(profile.password_changed_at, ctx.info.now)
    if portal_session and expired and effective.hard_expiry:
        raise AccessDenied(
            "Your password has expired and the password policy sets HardExpiry: "
            "an administrator must reset it."
        )
    password_hash = _set_password(ctx, user, str(params["NewPassword"]))
    ctx.conn.execute(
        t.login_profiles.update()
        .where(t.login_profiles.c.user_id == user.user_id)
        .values(
            password_hash=password_hash,
            password_reset_required=False,
            password_changed_at=ctx.info.now,
        )
    )
    ctx.changed_credentials(user_id=user.user_id)
    return {}
