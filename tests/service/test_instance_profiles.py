"""Instance profiles (IAM API Reference: CreateInstanceProfile, AddRoleToInstanceProfile,
DeleteInstanceProfile, DeleteRole; "IAM and AWS STS quotas": 1,000 instance profiles per
account, one role per instance profile).

AWS's wording, as its answers show it: "Instance Profile NAME cannot be found.",
"Instance Profile NAME already exists.", "Cannot exceed quota for
InstanceSessionsPerInstanceProfile: 1", "Cannot exceed quota for
InstanceProfilesPerAccount: 1000", "Cannot delete entity, must remove roles from
instance profile first." (DeleteInstanceProfile and DeleteRole alike).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.service.conftest import ACCOUNT, Call, fails

from selfiam.service.caller import Caller
from selfiam.service.operations import instance_profiles

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
PROFILE_ARN = f"arn:aws:iam::{ACCOUNT}:instance-profile/web/app"


@pytest.fixture
def role(call: Call) -> dict[str, Any]:
    return call("CreateRole", RoleName="app-role", AssumeRolePolicyDocument=TRUST)["Role"]


def test_create_get_list(call: Call) -> None:
    created = call(
        "CreateInstanceProfile",
        InstanceProfileName="app",
        Path="/web/",
        Tags=[{"Key": "env", "Value": "prod"}],
    )["InstanceProfile"]
    assert created["InstanceProfileId"].startswith("AIPA")
    assert len(created["InstanceProfileId"]) == 21
    assert created["Arn"] == PROFILE_ARN
    assert created["Roles"] == []
    assert created["Tags"] == [{"Key": "env", "Value": "prod"}]
    got = call("GetInstanceProfile", InstanceProfileName="APP")["InstanceProfile"]
    assert got == created
    call("CreateInstanceProfile", InstanceProfileName="other")
    listed = call("ListInstanceProfiles", PathPrefix="/web/")
    assert [p["InstanceProfileName"] for p in listed["InstanceProfiles"]] == ["app"]
    first = call("ListInstanceProfiles", MaxItems=1)
    assert first["IsTruncated"] and first["InstanceProfiles"][0]["InstanceProfileName"] == "app"
    second = call("ListInstanceProfiles", MaxItems=1, Marker=first["Marker"])
    assert [p["InstanceProfileName"] for p in second["InstanceProfiles"]] == ["other"]
    assert not second["IsTruncated"]


def test_errors(call: Call) -> None:
    call("CreateInstanceProfile", InstanceProfileName="app")
    fails(
        "EntityAlreadyExists",
        "Instance Profile App already exists.",
        call,
        "CreateInstanceProfile",
        InstanceProfileName="App",
    )
    for op in ("GetInstanceProfile", "DeleteInstanceProfile", "ListInstanceProfileTags"):
        fails(
            "NoSuchEntity",
            "Instance Profile nope cannot be found.",
            call,
            op,
            InstanceProfileName="nope",
        )


def test_one_role_per_profile_and_delete_conflicts(call: Call, role: dict[str, Any]) -> None:
    call("CreateInstanceProfile", InstanceProfileName="app", Path="/web/")
    call("CreateRole", RoleName="second", AssumeRolePolicyDocument=TRUST)
    call("AddRoleToInstanceProfile", InstanceProfileName="app", RoleName="app-role")
    quota = "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"
    for name in ("second", "app-role"):
        fails(
            "LimitExceeded",
            quota,
            call,
            "AddRoleToInstanceProfile",
            InstanceProfileName="app",
            RoleName=name,
        )
    profile = call("GetInstanceProfile", InstanceProfileName="app")["InstanceProfile"]
    assert [r["RoleId"] for r in profile["Roles"]] == [role["RoleId"]]
    assert "RoleLastUsed" not in profile["Roles"][0]
    for_role = call("ListInstanceProfilesForRole", RoleName="app-role")["InstanceProfiles"]
    assert [p["Arn"] for p in for_role] == [PROFILE_ARN]
    assert call("ListInstanceProfilesForRole", RoleName="second")["InstanceProfiles"] == []
    remove_first = "Cannot delete entity, must remove roles from instance profile first."
    fails("DeleteConflict", remove_first, call, "DeleteInstanceProfile", InstanceProfileName="app")
    fails("DeleteConflict", remove_first, call, "DeleteRole", RoleName="app-role")
    # GetRole and ListRoles do not show instance profiles.
    assert "InstanceProfileList" not in call("GetRole", RoleName="app-role")["Role"]
    fails(
        "NoSuchEntity",
        "The role with name second cannot be found.",
        call,
        "RemoveRoleFromInstanceProfile",
        InstanceProfileName="app",
        RoleName="second",
    )
    call("RemoveRoleFromInstanceProfile", InstanceProfileName="app", RoleName="app-role")
    call("DeleteRole", RoleName="app-role")
    call("DeleteInstanceProfile", InstanceProfileName="app")
    assert call("ListInstanceProfiles")["InstanceProfiles"] == []


def test_unknown_role_or_profile(call: Call, role: dict[str, Any]) -> None:
    call("CreateInstanceProfile", InstanceProfileName="app")
    fails(
        "NoSuchEntity",
        "The role with name nope cannot be found.",
        call,
        "AddRoleToInstanceProfile",
        InstanceProfileName="app",
        RoleName="nope",
    )
    fails(
        "NoSuchEntity",
        "Instance Profile nope cannot be found.",
        call,
        "AddRoleToInstanceProfile",
        InstanceProfileName="nope",
        RoleName="app-role",
    )
    assert call("GetInstanceProfile", InstanceProfileName="app")["InstanceProfile"]["Roles"] == []


def test_tags(call: Call) -> None:
    call("CreateInstanceProfile", InstanceProfileName="app")
    call(
        "TagInstanceProfile",
        InstanceProfileName="app",
        Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}],
    )
    call("UntagInstanceProfile", InstanceProfileName="app", TagKeys=["B"])
    tags = call("ListInstanceProfileTags", InstanceProfileName="app")
    assert tags == {"Tags": [{"Key": "a", "Value": "1"}], "IsTruncated": False}
    call("DeleteInstanceProfile", InstanceProfileName="app")
    call("CreateInstanceProfile", InstanceProfileName="app")
    assert call("ListInstanceProfileTags", InstanceProfileName="app")["Tags"] == []


def test_account_views(call: Call, role: dict[str, Any]) -> None:
    call("CreateInstanceProfile", InstanceProfileName="app", Path="/web/")
    call("CreateInstanceProfile", InstanceProfileName="spare")
    call("AddRoleToInstanceProfile", InstanceProfileName="app", RoleName="app-role")
    summary = call("GetAccountSummary")["SummaryMap"]
    assert summary["InstanceProfiles"] == 2 and summary["InstanceProfilesQuota"] == 1000
    details = call("GetAccountAuthorizationDetails", Filter=["Role"])["RoleDetailList"][0]
    assert [p["Arn"] for p in details["InstanceProfileList"]] == [PROFILE_ARN]
    assert details["InstanceProfileList"][0]["Roles"][0]["RoleName"] == "app-role"


def test_account_quota(call: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(instance_profiles, "INSTANCE_PROFILES_QUOTA", 2)
    call("CreateInstanceProfile", InstanceProfileName="a")
    call("CreateInstanceProfile", InstanceProfileName="b")
    fails(
        "LimitExceeded",
        "Cannot exceed quota for InstanceProfilesPerAccount: 2",
        call,
        "CreateInstanceProfile",
        InstanceProfileName="c",
    )


def test_authorization(
    call: Call, caller_for: Callable[[str], Caller], role: dict[str, Any]
) -> None:
    """Adding a role to an instance profile passes the role: iam:PassRole on it too."""
    call("CreateUser", UserName="bob")
    call("CreateInstanceProfile", InstanceProfileName="app", Path="/web/")
    allow = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:AddRoleToInstanceProfile", "Resource": PROFILE_ARN},
        ],
    }
    call("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=json.dumps(allow))
    bob = caller_for("bob")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/app-role"
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: iam:PassRole "
        f"on resource: {role_arn} because no identity-based policy allows the iam:PassRole "
        "action",
        call,
        "AddRoleToInstanceProfile",
        InstanceProfileName="app",
        RoleName="app-role",
        caller=bob,
    )
    allow["Statement"].append({"Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn})
    call("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=json.dumps(allow))
    call("AddRoleToInstanceProfile", InstanceProfileName="app", RoleName="app-role", caller=bob)
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: "
        f"iam:DeleteInstanceProfile on resource: {PROFILE_ARN} because no identity-based "
        "policy allows the iam:DeleteInstanceProfile action",
        call,
        "DeleteInstanceProfile",
        InstanceProfileName="app",
        caller=bob,
    )
