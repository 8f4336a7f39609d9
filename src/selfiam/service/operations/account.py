"""Account-wide operations: the account summary (counts and AWS's default quotas) and the alias.

The quota constants here are AWS's defaults; the other operation modules
import them so each limit has one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain.errors import EntityAlreadyExists, NoSuchEntity
from selfiam.service.context import OperationContext
from selfiam.service.operations.account_settings import sts_token_version
from selfiam.service.registry import operation
from selfiam.store import tables as t

USERS_QUOTA = 5000
GROUPS_QUOTA = 300
ROLES_QUOTA = 1000
POLICIES_QUOTA = 1500
GROUPS_PER_USER = 10
ACCESS_KEYS_PER_USER = 2
SIGNING_CERTIFICATES_PER_USER = 2
ATTACHED_POLICIES_PER_ENTITY = 10
SERVER_CERTIFICATES_QUOTA = 20

#: Quotas GetAccountSummary reports that no count goes with.
_FIXED_QUOTAS = {
    "UsersQuota": USERS_QUOTA,
    "GroupsQuota": GROUPS_QUOTA,
    "RolesQuota": ROLES_QUOTA,
    "PoliciesQuota": POLICIES_QUOTA,
    "PolicySizeQuota": 6144,
    "PolicyVersionsInUseQuota": 10000,
    "VersionsPerPolicyQuota": 5,
    "ServerCertificatesQuota": SERVER_CERTIFICATES_QUOTA,
    "InstanceProfilesQuota": 1000,
    "AccessKeysPerUserQuota": ACCESS_KEYS_PER_USER,
    "SigningCertificatesPerUserQuota": SIGNING_CERTIFICATES_PER_USER,
    "GroupsPerUserQuota": GROUPS_PER_USER,
    "AttachedPoliciesPerUserQuota": ATTACHED_POLICIES_PER_ENTITY,
    "AttachedPoliciesPerGroupQuota": ATTACHED_POLICIES_PER_ENTITY,
    "AttachedPoliciesPerRoleQuota": ATTACHED_POLICIES_PER_ENTITY,
    "UserPolicySizeQuota": 2048,
    "GroupPolicySizeQuota": 5120,
    "RolePolicySizeQuota": 10240,
    "AssumeRolePolicySizeQuota": 2048,
    "GlobalEndpointTokenVersion": 1,
}


def _count(conn: Connection, query: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def _attachments_in_use(conn: Connection, account_id: str) -> int:
    """Managed-policy attachments to the account's users, groups and roles."""
    u = (
        select(t.user_policy_attachments.c.policy_id)
        .join(t.users, t.users.c.user_id == t.user_policy_attachments.c.user_id)
        .where(t.users.c.account_id == account_id)
    )
    g = (
        select(t.group_policy_attachments.c.policy_id)
        .join(t.groups, t.groups.c.group_id == t.group_policy_attachments.c.group_id)
        .where(t.groups.c.account_id == account_id)
    )
    r = (
        select(t.role_policy_attachments.c.policy_id)
        .join(t.roles, t.roles.c.role_id == t.role_policy_attachments.c.role_id)
        .where(t.roles.c.account_id == account_id)
    )
    return _count(conn, union_all(u, g, r))


def account_counts(conn: Connection, account_id: str) -> dict[str, int]:
    """The counted entries of the summary map."""
    mfa = t.mfa_devices
    passkeys = select(t.passkeys.c.serial_number).where(t.passkeys.c.account_id == account_id)
    return {
        "Users": _count(conn, select(t.users.c.user_id).where(t.users.c.account_id == account_id)),
        "Groups": _count(
            conn, select(t.groups.c.group_id).where(t.groups.c.account_id == account_id)
        ),
        "Roles": _count(conn, select(t.roles.c.role_id).where(t.roles.c.account_id == account_id)),
        "Policies": _count(
            conn,
            select(t.managed_policies.c.policy_id).where(
                t.managed_policies.c.account_id == account_id
            ),
        ),
        "PolicyVersionsInUse": _attachments_in_use(conn, account_id),
        # Passkeys are always in use: removing one from its user deletes it.
        "MFADevices": _count(
            conn,
            union_all(select(mfa.c.serial_number).where(mfa.c.account_id == account_id), passkeys),
        ),
        "MFADevicesInUse": _count(
            conn,
            union_all(
                select(mfa.c.serial_number).where(
                    mfa.c.account_id == account_id, mfa.c.user_id.is_not(None)
                ),
                passkeys,
            ),
        ),
        "ServerCertificates": _count(
            conn,
            select(t.server_certificates.c.server_certificate_id).where(
                t.server_certificates.c.account_id == account_id
            ),
        ),
        "InstanceProfiles": _count(
            conn,
            select(t.instance_profiles.c.instance_profile_id).where(
                t.instance_profiles.c.account_id == account_id
            ),
        ),
        "Providers": 0,
        # The root user has no password, MFA device, access keys or certificates in selfiam.
        "AccountPasswordPresent": 0,
        "AccountMFAEnabled": 0,
        "AccountAccessKeysPresent": 0,
        "AccountSigningCertificatesPresent": 0,
    }


@operation("GetAccountSummary", writes=False)
def get_account_summary(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    summary: dict[str, int] = {**account_counts(ctx.conn, ctx.account_id), **_FIXED_QUOTAS}
    # SetSecurityTokenServicePreferences: 1 (v1Token, the default) or 2 (v2Token)
    summary["GlobalEndpointTokenVersion"] = sts_token_version(ctx.conn, ctx.account_id)
    return {"SummaryMap": dict(sorted(summary.items()))}


def _current_alias(ctx: OperationContext) -> str | None:
    alias: str | None = ctx.conn.execute(
        select(t.accounts.c.alias).where(t.accounts.c.account_id == ctx.account_id)
    ).scalar_one_or_none()
    return alias


@operation("CreateAccountAlias")
def create_account_alias(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Set the account's one alias, replacing the old one (as AWS does).

    Aliases are unique across accounts (a database constraint); asking for
    the alias the account already has is EntityAlreadyExists too.
    """
    alias = str(params["AccountAlias"])
    ctx.authorize("*")
    taken = EntityAlreadyExists(f"The account alias {alias} already exists.")
    if _current_alias(ctx) == alias:
        raise taken
    try:
        ctx.conn.execute(
            t.accounts.update().where(t.accounts.c.account_id == ctx.account_id).values(alias=alias)
        )
    except IntegrityError:
        raise taken from None
    return {}


@operation("DeleteAccountAlias")
def delete_account_alias(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    alias = str(params["AccountAlias"])
    ctx.authorize("*")
    if _current_alias(ctx) != alias:
        raise NoSuchEntity(f"The account alias {alias} cannot be found.")
    ctx.conn.execute(
        t.accounts.update().where(t.accounts.c.account_id == ctx.account_id).values(alias=None)
    )
    return {}


@operation("ListAccountAliases", writes=False)
def list_account_aliases(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    alias = _current_alias(ctx)
    return {"AccountAliases": [alias] if alias else [], "IsTruncated": False}
