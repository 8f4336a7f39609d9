"""GetAccountAuthorizationDetails, through ``Runtime.invoke``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from tests.service.conftest import ACCOUNT, Call

from selfiam.domain.errors import ValidationError

ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_ARN = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def doc(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


@pytest.fixture
def account(call: Call) -> dict[str, Any]:
    call("CreateUser", UserName="alice", Tags=[{"Key": "team", "Value": "a"}])
    call("CreateUser", UserName="bob", Path="/eng/")
    call("CreateGroup", GroupName="devs")
    call("AddUserToGroup", GroupName="devs", UserName="alice")
    policy = call("CreatePolicy", PolicyName="Readers", PolicyDocument=doc("iam:Get*"))["Policy"]
    call(
        "CreatePolicyVersion",
        PolicyArn=policy["Arn"],
        PolicyDocument=doc("iam:List*"),
        SetAsDefault=True,
    )
    call("CreatePolicy", PolicyName="Unused", PolicyDocument=doc("s3:*"))
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=policy["Arn"])
    call("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN_ARN)
    call("PutUserPolicy", UserName="alice", PolicyName="own", PolicyDocument=doc("s3:Get*"))
    call("PutGroupPolicy", GroupName="devs", PolicyName="grp", PolicyDocument=doc("s3:List*"))
    call("PutUserPermissionsBoundary", UserName="bob", PermissionsBoundary=READ_ONLY_ARN)
    return policy


def test_everything(call: Call, account: dict[str, Any]) -> None:
    out = call("GetAccountAuthorizationDetails")
    assert out["IsTruncated"] is False
    users = {u["UserName"]: u for u in out["UserDetailList"]}
    assert list(users) == ["alice", "bob"]
    alice = users["alice"]
    assert alice["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert alice["GroupList"] == ["devs"]
    assert alice["AttachedManagedPolicies"] == [
        {"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN_ARN}
    ]
    assert [p["PolicyName"] for p in alice["UserPolicyList"]] == ["own"]
    assert json.loads(unquote(alice["UserPolicyList"][0]["PolicyDocument"])) == json.loads(
        doc("s3:Get*")
    )
    assert alice["Tags"] == [{"Key": "team", "Value": "a"}]
    assert "PermissionsBoundary" not in alice
    bob = users["bob"]
    assert bob["Path"] == "/eng/"
    assert bob["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ_ONLY_ARN
    assert bob["GroupList"] == [] and bob["UserPolicyList"] == []

    [devs] = out["GroupDetailList"]
    assert devs["GroupName"] == "devs" and devs["GroupId"].startswith("AGPA")
    assert devs["AttachedManagedPolicies"] == [
        {"PolicyName": "Readers", "PolicyArn": account["Arn"]}
    ]
    assert [p["PolicyName"] for p in devs["GroupPolicyList"]] == ["grp"]
    assert out["RoleDetailList"] == []

    policies = {p["PolicyName"]: p for p in out["Policies"]}
    # Customer managed: all of them; AWS managed: only those in use.
    assert set(policies) == {"Readers", "Unused", "AdministratorAccess", "IAMReadOnlyAccess"}
    readers = policies["Readers"]
    assert readers["DefaultVersionId"] == "v2" and readers["AttachmentCount"] == 1
    versions = readers["PolicyVersionList"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [
        ("v2", True),
        ("v1", False),
    ]
    assert json.loads(unquote(versions[0]["Document"])) == json.loads(doc("iam:List*"))
    assert policies["IAMReadOnlyAccess"]["PermissionsBoundaryUsageCount"] == 1


def test_filter(call: Call, account: dict[str, Any]) -> None:
    groups = call("GetAccountAuthorizationDetails", Filter=["Group"])
    assert [g["GroupName"] for g in groups["GroupDetailList"]] == ["devs"]
    assert groups["UserDetailList"] == [] and groups["Policies"] == []
    local = call("GetAccountAuthorizationDetails", Filter=["LocalManagedPolicy"])
    assert [p["PolicyName"] for p in local["Policies"]] == ["Readers", "Unused"]
    aws = call("GetAccountAuthorizationDetails", Filter=["AWSManagedPolicy", "User"])
    assert [p["PolicyName"] for p in aws["Policies"]] == [
        "AdministratorAccess",
        "IAMReadOnlyAccess",
    ]
    assert len(aws["UserDetailList"]) == 2


def test_pagination_walks_every_section(call: Call, account: dict[str, Any]) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"MaxItems": 2}
    while True:
        page = call("GetAccountAuthorizationDetails", **params)
        count = 0
        for key, field in (
            ("UserDetailList", "UserName"),
            ("GroupDetailList", "GroupName"),
            ("Policies", "PolicyName"),
        ):
            seen += [item[field] for item in page[key]]
            count += len(page[key])
        assert count <= 2
        if not page["IsTruncated"]:
            break
        params["Marker"] = page["Marker"]
    assert seen == [
        "alice",
        "bob",
        "devs",
        "Readers",
        "Unused",
        "AdministratorAccess",
        "IAMReadOnlyAccess",
    ]


def test_bad_marker(call: Call) -> None:
    with pytest.raises(ValidationError):
        call("GetAccountAuthorizationDetails", Marker="not-a-marker")


def test_a_roles_attached_policies_by_name(call: Call, account: dict[str, Any]) -> None:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    call("CreateRole", RoleName="ops", AssumeRolePolicyDocument=trust)
    call("AttachRolePolicy", RoleName="ops", PolicyArn=account["Arn"])
    call("AttachRolePolicy", RoleName="ops", PolicyArn=ADMIN_ARN)
    [ops] = call("GetAccountAuthorizationDetails", Filter=["Role"])["RoleDetailList"]
    assert ops["AttachedManagedPolicies"] == [
        {"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN_ARN},
        {"PolicyName": "Readers", "PolicyArn": account["Arn"]},
    ]
