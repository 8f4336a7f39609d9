"""What the password operations and the portal's sign-in share.

* the account's password policy (a custom one, or IAM's default);
* checking a new password against it, including reuse prevention against the
  user's ``password_history`` (argon2id hashes only, never more of them than
  PasswordReusePrevention asks to remember);
* AllowUsersToChangePassword, which AWS applies at the account level as if
  every user had ``iam:ChangePassword`` on themselves and
  ``iam:GetAccountPasswordPolicy``: it turns an *implicit* deny into an allow,
  never an explicit one;
* :func:`verify_login`, the portal's sign-in check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection

from selfiam.auth.passwords import PasswordHasher
from selfiam.domain.arns import user_arn
from selfiam.domain.errors import AccessDenied, PasswordPolicyViolation
from selfiam.domain.identifiers import new_request_id
from selfiam.domain.password_rules import (
    AWS_DEFAULT_POLICY,
    PasswordPolicy,
    generate_password,
    reuse_violation,
    violation_message,
    violations,
)
from selfiam.service.audit import AuditRecord
from selfiam.service.context import OperationContext
from selfiam.service.lookup import find_user
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime


def custom_policy(conn: Connection, account_id: str) -> PasswordPolicy | None:
    """The account's own password policy, or None when none has been set."""
    text = conn.execute(
        select(t.accounts.c.password_policy).where(t.accounts.c.account_id == account_id)
    ).scalar_one_or_none()
    return PasswordPolicy.from_json(text) if text else None


def effective_policy(conn: Connection, account_id: str) -> PasswordPolicy:
    """The policy passwords must meet: the custom one, else IAM's default."""
    return custom_policy(conn, account_id) or AWS_DEFAULT_POLICY


def authorize_with_account_grant(
    ctx: OperationContext,
    resource: str,
    policy: PasswordPolicy | None,
    *,
    resource_tags: Mapping[str, str] | None = None,
) -> None:
    """Authorize, counting AllowUsersToChangePassword as an identity-based allow.

    Only for iam:ChangePassword on the caller's own user and
    iam:GetAccountPasswordPolicy, the two permissions AWS says the setting grants.
    """
    try:
        ctx.authorize(resource, resource_tags=resource_tags)
    except AccessDenied:
        granted = policy is not None and policy.allow_users_to_change_password
        if not (granted and not ctx.caller.is_root and ctx.decision == "implicitDeny"):
            raise
        ctx.decision = "allowed"


def check_new_password(
    conn: Connection,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    user_id: str,
    user_name: str,
    password: str,
) -> None:
    """Raise PasswordPolicyViolation naming every rule ``password`` fails."""
    found = violations(password, policy, user_name)
    remember = policy.password_reuse_prevention
    if remember and any(hasher.verify(h, password) for h in _history(conn, user_id, remember)):
        found.append(reuse_violation(remember))
    if found:
        raise PasswordPolicyViolation(violation_message(found))


def _history(conn: Connection, user_id: str, limit: int) -> Sequence[str]:
    ph = t.password_history
    return (
        conn.execute(
            select(ph.c.password_hash)
            .where(ph.c.user_id == user_id)
            .order_by(ph.c.set_at.desc(), ph.c.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def remember_password(
    conn: Connection, policy: PasswordPolicy, user_id: str, password_hash: str, now: datetime
) -> None:
    """Add the new hash to the user's history and keep only the newest ones the policy needs."""
    ph = t.password_history
    remember = policy.password_reuse_prevention
    if remember:
        conn.execute(ph.insert().values(user_id=user_id, password_hash=password_hash, set_at=now))
    keep = (
        select(ph.c.id)
        .where(ph.c.user_id == user_id)
        .order_by(ph.c.set_at.desc(), ph.c.id.desc())
        .limit(remember)
    )
    kept = list(conn.execute(keep).scalars()) if remember else []
    conn.execute(ph.delete().where(ph.c.user_id == user_id, ph.c.id.not_in(kept)))


def login_profile(conn: Connection, user_id: str) -> Row[Any] | None:
    lp = t.login_profiles
    return conn.execute(select(lp).where(lp.c.user_id == user_id)).first()


# -- sign-in (the portal) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignIn:
    """A successful password check, and what the user must do before anything else.

    ``password_reset_required`` (set by an admin) and ``password_expired``
    (MaxPasswordAge) both mean: the user may only change their password.
    ``must_contact_admin`` is HardExpiry on an expired password: the portal
    must not let them set one either.
    """

    user_id: str
    user_name: str
    arn: str
    password_reset_required: bool
    password_expired: bool
    must_contact_admin: bool

    @property
    def must_change_password(self) -> bool:
        return self.password_reset_required or self.password_expired


def verify_login(
    runtime: Runtime,
    account_id: str,
    user_name: str,
    password: str,
    now: datetime,
    *,
    source_ip: str | None = None,
    user_agent: str | None = None,
) -> SignIn | None:
    """Check a user's console password; None if the name or the password is wrong.

    An unknown user, or one without a login profile, costs the same argon2
    verification as a real one, so timing does not tell which names exist.
    The hash work runs outside any transaction (no write lock is held while
    it runs). On success ``PasswordLastUsed`` is recorded, and a hash made
    with old cost parameters is upgraded. Every attempt is audited as
    ``signin:ConsoleLogin``.
    """
    hasher = runtime.hasher
    with read_transaction(runtime.engine) as conn:
        user = find_user(conn, account_id, user_name)
        profile = login_profile(conn, user.user_id) if user is not None else None
        policy = effective_policy(conn, account_id)
    if user is None or profile is None:
        hasher.verify_dummy(password)
        ok = False
    else:
        ok = hasher.verify(profile.password_hash, password)
    arn = user_arn(account_id, user.name, user.path) if user is not None else None
    audit_signin(
        runtime, account_id, arn, now, None if ok else "AccessDenied", source_ip, user_agent
    )
    if not ok or user is None or profile is None:
        return None
    rehashed = hasher.hash(password) if hasher.needs_rehash(profile.password_hash) else None
    with transaction(runtime.engine) as conn:
        conn.execute(
            t.users.update().where(t.users.c.user_id == user.user_id).values(password_last_used=now)
        )
        if rehashed is not None:
            lp = t.login_profiles
            conn.execute(
                lp.update()
                .where(lp.c.user_id == user.user_id, lp.c.password_hash == profile.password_hash)
                .values(password_hash=rehashed)
            )
    expired = policy.is_expired(profile.password_changed_at, now)
    assert arn is not None
    return SignIn(
        user_id=user.user_id,
        user_name=user.name,
        arn=arn,
        password_reset_required=bool(profile.password_reset_required),
        password_expired=expired,
        must_contact_admin=expired and policy.hard_expiry,
    )


def audit_signin(
    runtime: Runtime,
    account_id: str | None,
    arn: str | None,
    now: datetime,
    error_code: str | None,
    source_ip: str | None,
    user_agent: str | None,
) -> None:
    """A ``signin:ConsoleLogin`` record: allowed, or refused with ``error_code``."""
    runtime.audit.submit(
        AuditRecord(
            at=now,
            request_id=new_request_id(),
            account_id=account_id,
            caller_arn=arn,
            action="signin:ConsoleLogin",
            resource=arn,
            decision="allowed" if error_code is None else "error",
            error_code=error_code,
            source_ip=source_ip or None,
            user_agent=user_agent[:1024] if user_agent else None,
        )
    )


def temporary_password(runtime: Runtime, account_id: str, user_name: str) -> str:
    """A generated one-time password that meets the account's current password policy."""
    with read_transaction(runtime.engine) as conn:
        policy = effective_policy(conn, account_id)
    return generate_password(policy, user_name)
