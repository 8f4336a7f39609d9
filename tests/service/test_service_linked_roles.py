"""Service-linked roles (IAM API Reference: CreateServiceLinkedRole,
DeleteServiceLinkedRole, GetServiceLinkedRoleDeletionStatus; IAM User Guide "Using
service-linked roles").

AWS's wording as its answers show it: "Service role name NAME has been taken in this
account, please try a different suffix." (InvalidInput) and "Cannot perform the
operation on the protected role 'NAME' - this role is only modifiable by AWS"
(UnmodifiableEntity, 400). The deletion task id is task/aws-service-role/SERVICE/NAME/ID.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from tests.service.conftest import ACCOUNT, Call, fails

from selfiam.service.runtime import Runtime

ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
PROTECTED = (
    "Cannot perform the operation on the protected role 'AWSServiceRoleForAutoScaling' - "
    "this role is only modifiable by AWS"
)


@pytest.fixture
def slr(call: Call) -> dict[str, Any]:
    return call(
        "CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com", Description="d"
    )["Role"]


def test_create(call: Call, slr: dict[str, Any]) -> None:
    assert slr["RoleName"] == "AWSServiceRoleForAutoScaling"
    assert slr["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    assert slr["Arn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )
    assert slr["RoleId"].startswith("AROA") and slr["Description"] == "d"
    trust = json.loads(unquote(slr["AssumeRolePolicyDocument"]))
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["autoscaling.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
        }
    ]
    # AWS's AutoScalingServiceRolePolicy (one of the managed policies selfiam ships) is attached.
    assert call("ListAttachedRolePolicies", RoleName=slr["RoleName"])["AttachedPolicies"] == [
        {
            "PolicyName": "AutoScalingServiceRolePolicy",
            "PolicyArn": "arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy",
        }
    ]
    got = call("GetRole", RoleName="AWSServiceRoleForAutoScaling")["Role"]
    assert got["Arn"] == slr["Arn"]


def test_names(call: Call) -> None:
    made = call(
        "CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="web"
    )["Role"]
    assert made["RoleName"] == "AWSServiceRoleForAutoScaling_web"
    other = call("CreateServiceLinkedRole", AWSServiceName="some-service.amazonaws.com")["Role"]
    assert other["RoleName"] == "AWSServiceRoleForSomeService"
    fails(
        "InvalidInput",
        "Service role name AWSServiceRoleForAutoScaling_web has been taken in this account, "
        "please try a different suffix.",
        call,
        "CreateServiceLinkedRole",
        AWSServiceName="autoscaling.amazonaws.com",
        CustomSuffix="web",
    )


def test_unmodifiable(call: Call, slr: dict[str, Any]) -> None:
    name = slr["RoleName"]
    policy_arn = call("CreatePolicy", PolicyName="p", PolicyDocument=ALLOW_ALL)["Policy"]["Arn"]
    refused: list[tuple[str, dict[str, Any]]] = [
        ("DeleteRole", {}),
        ("UpdateAssumeRolePolicy", {"PolicyDocument": slr_trust()}),
        ("PutRolePolicy", {"PolicyName": "x", "PolicyDocument": ALLOW_ALL}),
        ("DeleteRolePolicy", {"PolicyName": "x"}),
        ("AttachRolePolicy", {"PolicyArn": policy_arn}),
        ("DetachRolePolicy", {"PolicyArn": policy_arn}),
        ("PutRolePermissionsBoundary", {"PermissionsBoundary": policy_arn}),
        ("DeleteRolePermissionsBoundary", {}),
    ]
    for op, params in refused:
        fails("UnmodifiableEntity", PROTECTED, call, op, RoleName=name, **params)
    # Its description and tags stay the account's to edit, as in AWS.
    call("UpdateRoleDescription", RoleName=name, Description="new")
    call("TagRole", RoleName=name, Tags=[{"Key": "k", "Value": "v"}])
    assert call("ListRolePolicies", RoleName=name)["PolicyNames"] == []


def slr_trust() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def test_delete_and_status(call: Call, runtime: Runtime, slr: dict[str, Any]) -> None:
    call("CreateRole", RoleName="plain", AssumeRolePolicyDocument=slr_trust())
    fails(
        "NoSuchEntity",
        "Role plain is not a service-linked role.",
        call,
        "DeleteServiceLinkedRole",
        RoleName="plain",
    )
    fails(
        "NoSuchEntity",
        "The role with name nope cannot be found.",
        call,
        "DeleteServiceLinkedRole",
        RoleName="nope",
    )
    task = call("DeleteServiceLinkedRole", RoleName="AWSServiceRoleForAutoScaling")[
        "DeletionTaskId"
    ]
    prefix = "task/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling/"
    assert task.startswith(prefix) and len(task) == len(prefix) + 36
    fails(
        "NoSuchEntity",
        "The role with name AWSServiceRoleForAutoScaling cannot be found.",
        call,
        "GetRole",
        RoleName="AWSServiceRoleForAutoScaling",
    )
    status = call("GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task)
    assert status == {"Status": "SUCCEEDED"}
    unknown = prefix + "00000000-0000-0000-0000-000000000000"
    fails(
        "NoSuchEntity",
        f"Deletion task {unknown} cannot be found.",
        call,
        "GetServiceLinkedRoleDeletionStatus",
        DeletionTaskId=unknown,
    )
    # The name is free again.
    call("CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com")
    summary = call("GetAccountSummary")["SummaryMap"]
    assert summary["Roles"] == 2
