"""Account summary and account alias."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.service.conftest import ACCOUNT, Call, Clock, fails

from selfiam.service.bootstrap import create_account
from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import transaction

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
OTHER = "210987654321"

#: The SummaryMap keys of AWS's documented GetAccountSummary example.
AWS_KEYS = {
    "GroupPolicySizeQuota", "InstanceProfilesQuota", "Policies", "GroupsPerUserQuota",
    "InstanceProfiles", "AttachedPoliciesPerUserQuota", "Users", "PoliciesQuota", "Providers",
    "AccountMFAEnabled", "AccessKeysPerUserQuota", "AssumeRolePolicySizeQuota",
    "PolicyVersionsInUseQuota", "GlobalEndpointTokenVersion", "VersionsPerPolicyQuota",
    "AttachedPoliciesPerGroupQuota", "PolicySizeQuota", "Groups",
    "AccountSigningCertificatesPresent", "UsersQuota", "ServerCertificatesQuota", "MFADevices",
    "UserPolicySizeQuota", "PolicyVersionsInUse", "ServerCertificates", "Roles", "RolesQuota",
    "SigningCertificatesPerUserQuota", "MFADevicesInUse", "RolePolicySizeQuota",
    "AttachedPoliciesPerRoleQuota", "AccountAccessKeysPresent", "GroupsQuota",
    # Not in the documented example, but in every answer AWS records (the root's password).
    "AccountPasswordPresent",
}



def test_summary_of_an_empty_account(call: Call) -> None:
    summary = call("GetAccountSummary")["SummaryMap"]
    assert set(summary) == AWS_KEYS
    assert summary["Users"] == summary["Groups"] == summary["Policies"] == 0
    assert summary["AccessKeysPerUserQuota"] == 2
    assert summary["UsersQuota"] == 5000
    assert summary["GroupsPerUserQuota"] == 10
    assert all(isinstance(v, int) for v in summary.values())


def test_summary_counts(call: Call, runtime: Runtime, clock: Clock) -> None:
    for name in ["alice", "bob", "carol"]:
        call("CreateUser", UserName=name)
    call("CreateGroup", GroupName="devs")
    call("AttachUserPolicy", UserName="alice", PolicyArn=READ_ONLY)
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=READ_ONLY)
    doc = json.dumps({"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    call("CreatePolicy", PolicyName="mine", PolicyDocument=doc)
    with transaction(runtime.engine) as conn:
        bob_id = conn.execute(
            t.users.select().where(t.users.c.name == "bob")
        ).one().user_id
        for name, user_id in [("a", None), ("b", bob_id)]:
            conn.execute(t.mfa_devices.insert().values(
                serial_number=f"arn:aws:iam::{ACCOUNT}:mfa/{name}", account_id=ACCOUNT,
                name=name, name_lower=name, path="/", seed_ciphertext=b"x", user_id=user_id,
                created_at=clock.now))
    summary = call("GetAccountSummary")["SummaryMap"]
    assert summary["Users"] == 3
    assert summary["Groups"] == 1
    assert summary["Policies"] == 1
    assert summary["PolicyVersionsInUse"] == 2
    assert summary["MFADevices"] == 2
    assert summary["MFADevicesInUse"] == 1


def test_summary_counts_only_this_account(call: Call, runtime: Runtime, clock: Clock) -> None:
    with transaction(runtime.engine) as conn:
        create_account(conn, clock(), OTHER)
    call("CreateUser", UserName="elsewhere", caller=Caller.root(OTHER))
    assert call("GetAccountSummary")["SummaryMap"]["Users"] == 0


def test_alias_lifecycle(call: Call) -> None:
    assert call("ListAccountAliases") == {"AccountAliases": [], "IsTruncated": False}
    call("CreateAccountAlias", AccountAlias="acme-prod")
    assert call("ListAccountAliases")["AccountAliases"] == ["acme-prod"]
    call("CreateAccountAlias", AccountAlias="acme-main")  # replaces: one alias per account
    assert call("ListAccountAliases")["AccountAliases"] == ["acme-main"]
    fails("NoSuchEntity", "The account alias acme-prod cannot be found.",
          call, "DeleteAccountAlias", AccountAlias="acme-prod")
    call("DeleteAccountAlias", AccountAlias="acme-main")
    assert call("ListAccountAliases")["AccountAliases"] == []


def test_alias_already_held(call: Call, runtime: Runtime, clock: Clock) -> None:
    call("CreateAccountAlias", AccountAlias="acme")
    fails("EntityAlreadyExists", "The account alias acme already exists.",
          call, "CreateAccountAlias", AccountAlias="acme")
    with transaction(runtime.engine) as conn:
        create_account(conn, clock(), OTHER)
    fails("EntityAlreadyExists", "The account alias acme already exists.",
          call, "CreateAccountAlias", caller=Caller.root(OTHER), AccountAlias="acme")
    assert call("ListAccountAliases", caller=Caller.root(OTHER))["AccountAliases"] == []


def test_read_only_user_reads_but_cannot_set_alias(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="bob")
    call("AttachUserPolicy", UserName="bob", PolicyArn=READ_ONLY)
    bob = caller_for("bob")
    assert call("GetAccountSummary", caller=bob)["SummaryMap"]["Users"] == 1
    call("ListAccountAliases", caller=bob)
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: "
        "iam:CreateAccountAlias on resource: * because no identity-based policy allows the "
        "iam:CreateAccountAlias action",
        call, "CreateAccountAlias", caller=bob, AccountAlias="mine",
    )
