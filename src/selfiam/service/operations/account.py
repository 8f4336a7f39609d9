"""Account-wide operations: the account summary (counts and AWS's default quotas) and the alias.

The quota constants here are AWS's defaults; the other operation modules
import them so each limit has one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain.errors import EntityAlreadyExists, NoSuchEntity
from selfiam.service.context import OperationContext
from selfiam.service.operations.account_settings import sts_token_version
from selfiam.service.registry import operation
from selfiam.store import counters
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


def account_counts(conn: Connection, account_id: str) -> dict[str, int]:
    """The counted entries of the summary map, read from the account's counters
    (``store/counters.py``): one indexed read whatever the account holds."""
    ac = counters.account_counters
    n = dict.fromkeys(counters.KINDS, 0)
    n.update(
        (row.kind, int(row.n))
        for row in conn.execute(select(ac.c.kind, ac.c.n).where(ac.c.account_id == account_id))
    )
    return {
        "Users": n[counters.USERS],
        "Groups": n[counters.GROUPS],
        "Roles": n[counters.ROLES],
        "Policies": n[counters.POLICIES],
        "PolicyVersionsInUse": n[counters.ATTACHMENTS],
        "MFADevices": n[counters.MFA_DEVICES],
        "MFADevicesInUse": n[counters.MFA_DEVICES_IN_USE],
        # At most ServerCertificatesQuota (20) rows: counted, not kept in a counter.
        "ServerCertificates": int(
            conn.execute(
                select(func.count()).where(t.server_certificates.c.account_id == account_id)
            ).scalar_one()
        ),
        "InstanceProfiles": n[counters.INSTANCE_PROFILES],
        "Providers": n[counters.SAML_PROVIDERS] + n[counters.OIDC_PROVIDERS],
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


@operation("CreateAccountAlias", light=True)
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


@operation("DeleteAccountAlias", light=True)
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
