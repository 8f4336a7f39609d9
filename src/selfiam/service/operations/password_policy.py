"""The account password policy: Get, Update (no partial updates) and Delete.

Stored as JSON in ``accounts.password_policy``; NULL means no custom policy,
and then IAM's default policy applies to new passwords while
GetAccountPasswordPolicy answers NoSuchEntity, exactly as AWS does. None of
these operations names a resource type, so they are authorized against ``*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selfiam.domain.errors import AwsError, NoSuchEntity
from selfiam.domain.password_rules import PasswordPolicy
from selfiam.service.context import OperationContext
from selfiam.service.passwords import authorize_with_account_grant, custom_policy
from selfiam.service.registry import operation
from selfiam.store import tables as t


def no_policy(account_id: str) -> AwsError:
    return NoSuchEntity(f"The Password Policy with domain name {account_id} cannot be found.")


def _store(ctx: OperationContext, policy: PasswordPolicy | None) -> None:
    ctx.conn.execute(
        t.accounts.update()
        .where(t.accounts.c.account_id == ctx.account_id)
        .values(password_policy=policy.to_json() if policy is not None else None)
    )


@operation("GetAccountPasswordPolicy", writes=False)
def get_account_password_policy(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    policy = custom_policy(ctx.conn, ctx.account_id)
    authorize_with_account_grant(ctx, "*", policy)
    if policy is None:
        raise no_policy(ctx.account_id)
    return {"PasswordPolicy": policy.shape()}


@operation("UpdateAccountPasswordPolicy")
def update_account_password_policy(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Replace the policy. It affects new passwords; existing ones stay valid, except that
    a new MaxPasswordAge counts from each password's last change."""
    ctx.authorize("*")
    _store(ctx, PasswordPolicy.from_params(params))
    ctx.changed_credentials()  # AllowUsersToChangePassword grants permissions
    return {}


@operation("DeleteAccountPasswordPolicy")
def delete_account_password_policy(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    ctx.authorize("*")
    if custom_policy(ctx.conn, ctx.account_id) is None:
        raise no_policy(ctx.account_id)
    _store(ctx, None)
    ctx.changed_credentials()
    return {}
