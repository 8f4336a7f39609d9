"""IAM roles: CreateRole … DeleteRole, their policies, boundary and tags, with AWS's errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import unquote

import pytest
from tests.service.conftest import ACCOUNT, Call, denied, fails

from selfiam.service.caller import Caller

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app/deployer"


def trust(principal: object, **extra: object) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


ROOT_TRUST = trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
ALLOW_S3 = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


@pytest.fixture
def role(call: Call) -> dict[str, object]:
    return call(
        "CreateRole",
        RoleName="deployer",
        Path="/app/",
        AssumeRolePolicyDocument=ROOT_TRUST,
        Description="deploys",
        Tags=[{"Key": "team", "Value": "ops"}],
    )["Role"]


def test_create_and_get(call: Call, role: dict[str, object]) -> None:
    assert str(role["RoleId"]).startswith("AROA") and len(str(role["RoleId"])) == 21
    assert role["Arn"] == ROLE_ARN
    assert role["MaxSessionDuration"] == 3600
    assert role["Tags"] == [{"Key": "team", "Value": "ops"}]
    got = call("GetRole", RoleName="DEPLOYER")["Role"]
    assert got["RoleName"] == "deployer" and got["Description"] == "deploys"
    assert json.loads(unquote(got["AssumeRolePolicyDocument"])) == json.loads(ROOT_TRUST)
    assert got["RoleLastUsed"] == {}


def test_name_unique_case_insensitively(call: Call, role: dict[str, object]) -> None:
    fails(
        "EntityAlreadyExists",
        "Role with name Deployer already exists.",
        call,
        "CreateRole",
        RoleName="Deployer",
        AssumeRolePolicyDocument=ROOT_TRUST,
    )


@pytest.mark.parametrize(
    ("document", "code", "message"),
    [
        # AWS: a trust policy is a resource-based policy and must name a principal.
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}],
                }
            ),
            "MalformedPolicyDocument",
            None,
        ),
        # AWS rejects a principal ARN that names no existing user or role.
        (
            trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody"}),
            "MalformedPolicyDocument",
            f'Invalid principal in policy: "AWS":"arn:aws:iam::{ACCOUNT}:user/nobody"',
        ),
        (trust({"AWS": "not-an-arn"}), "MalformedPolicyDocument", None),
        (
            trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, Condition={"x": 1}),
            "MalformedPolicyDocument",
            None,
        ),
    ],
)
def test_bad_trust_policy_writes_nothing(
    call: Call, document: str, code: str, message: str | None
) -> None:
    fails(code, message, call, "CreateRole", RoleName="r", AssumeRolePolicyDocument=document)
    fails("NoSuchEntity", "The role with name r cannot be found.", call, "GetRole", RoleName="r")


def test_trust_policy_over_quota(call: Call) -> None:
    big = trust({"AWS": [f"arn:aws:iam::{ACCOUNT}:root"] * 60})
    fails(
        "LimitExceeded",
        "Cannot exceed quota for ACLSizePerRole: 2048",
        call,
        "CreateRole",
        RoleName="r",
        AssumeRolePolicyDocument=big,
    )


def test_trust_may_name_an_existing_user(call: Call) -> None:
    call("CreateUser", UserName="alice")
    document = trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"})
    call("CreateRole", RoleName="r", AssumeRolePolicyDocument=document)
    call("UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=ROOT_TRUST)
    fails(
        "MalformedPolicyDocument",
        None,
        call,
        "UpdateAssumeRolePolicy",
        RoleName="r",
        PolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/gone"}),
    )


def test_list_roles_by_path_and_pages(call: Call) -> None:
    for name, path in [("a", "/x/"), ("b", "/"), ("c", "/x/y/"), ("d", "/x/")]:
        call("CreateRole", RoleName=name, Path=path, AssumeRolePolicyDocument=ROOT_TRUST)
    first = call("ListRoles", PathPrefix="/x/", MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == ["a", "c"]
    assert first["IsTruncated"] is True
    assert "Tags" not in first["Roles"][0] and "PermissionsBoundary" not in first["Roles"][0]
    rest = call("ListRoles", PathPrefix="/x/", Marker=first["Marker"])
    assert [r["RoleName"] for r in rest["Roles"]] == ["d"] and rest["IsTruncated"] is False


def test_update_role_and_description(call: Call, role: dict[str, object]) -> None:
    call("UpdateRole", RoleName="deployer", MaxSessionDuration=7200)
    out = call("UpdateRoleDescription", RoleName="deployer", Description="new")["Role"]
    assert out["Description"] == "new" and out["MaxSessionDuration"] == 7200


def test_inline_and_attached_policies(call: Call, role: dict[str, object]) -> None:
    call("PutRolePolicy", RoleName="deployer", PolicyName="s3", PolicyDocument=ALLOW_S3)
    assert call("ListRolePolicies", RoleName="deployer")["PolicyNames"] == ["s3"]
    got = call("GetRolePolicy", RoleName="deployer", PolicyName="s3")
    assert got["RoleName"] == "deployer" and json.loads(unquote(got["PolicyDocument"]))
    arn = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    call("AttachRolePolicy", RoleName="deployer", PolicyArn=arn)
    attached = call("ListAttachedRolePolicies", RoleName="deployer")["AttachedPolicies"]
    assert attached == [{"PolicyName": "IAMReadOnlyAccess", "PolicyArn": arn}]
    users = call("ListEntitiesForPolicy", PolicyArn=arn)
    assert users["PolicyRoles"] == [{"RoleName": "deployer", "RoleId": role["RoleId"]}]
    fails(
        "NoSuchEntity",
        "The role policy with name nope cannot be found.",
        call,
        "GetRolePolicy",
        RoleName="deployer",
        PolicyName="nope",
    )


def test_delete_role_conflicts_as_aws(call: Call, role: dict[str, object]) -> None:
    """AWS DeleteRole: inline policies and attached managed policies must go first; a
    permissions boundary need not (AWS's list does not name it)."""
    arn = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    call("PutRolePolicy", RoleName="deployer", PolicyName="s3", PolicyDocument=ALLOW_S3)
    call("AttachRolePolicy", RoleName="deployer", PolicyArn=arn)
    call("PutRolePermissionsBoundary", RoleName="deployer", PermissionsBoundary=arn)
    fails(
        "DeleteConflict",
        "Cannot delete entity, must delete policies first.",
        call,
        "DeleteRole",
        RoleName="deployer",
    )
    call("DeleteRolePolicy", RoleName="deployer", PolicyName="s3")
    fails(
        "DeleteConflict",
        "Cannot delete entity, must detach all policies first.",
        call,
        "DeleteRole",
        RoleName="deployer",
    )
    call("DetachRolePolicy", RoleName="deployer", PolicyArn=arn)
    call("DeleteRole", RoleName="deployer")
    assert call("ListRoles")["Roles"] == []


def test_boundary_and_tags(call: Call, role: dict[str, object]) -> None:
    arn = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    call("PutRolePermissionsBoundary", RoleName="deployer", PermissionsBoundary=arn)
    got = call("GetRole", RoleName="deployer")["Role"]
    assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn
    call("DeleteRolePermissionsBoundary", RoleName="deployer")
    assert "PermissionsBoundary" not in call("GetRole", RoleName="deployer")["Role"]
    call("TagRole", RoleName="deployer", Tags=[{"Key": "env", "Value": "prod"}])
    call("UntagRole", RoleName="deployer", TagKeys=["TEAM"])
    assert call("ListRoleTags", RoleName="deployer")["Tags"] == [{"Key": "env", "Value": "prod"}]


def test_access_denied_names_the_role_arn(
    call: Call, caller_for: Callable[[str], Caller], role: dict[str, object]
) -> None:
    call("CreateUser", UserName="bob")
    fails(
        "AccessDenied",
        denied("bob", "iam:DeleteRole", ROLE_ARN),
        call,
        "DeleteRole",
        RoleName="deployer",
        caller=caller_for("bob"),
    )
    assert call("GetRole", RoleName="deployer")["Role"]["RoleName"] == "deployer"


def test_account_summary_counts_roles(call: Call, role: dict[str, object]) -> None:
    summary = call("GetAccountSummary")["SummaryMap"]
    assert summary["Roles"] == 1 and summary["RolePolicySizeQuota"] == 10240


def test_authorization_details_list_the_role(call: Call, role: dict[str, object]) -> None:
    call("PutRolePolicy", RoleName="deployer", PolicyName="s3", PolicyDocument=ALLOW_S3)
    out = call("GetAccountAuthorizationDetails", Filter=["Role"])
    (detail,) = out["RoleDetailList"]
    assert detail["Arn"] == ROLE_ARN and detail["RoleId"] == role["RoleId"]
    assert [p["PolicyName"] for p in detail["RolePolicyList"]] == ["s3"]
    assert detail["Tags"] == [{"Key": "team", "Value": "ops"}]
