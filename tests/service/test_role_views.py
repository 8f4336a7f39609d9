"""What the account-wide IAM views say about roles (issue 11, item 7).

SimulatePrincipalPolicy with a role as PolicySourceArn (its inline and attached policies
and its permissions boundary), ListEntitiesForPolicy with EntityFilter Role and
PolicyUsageFilter (PermissionPolicy / PermissionsBoundary), GetAccountSummary's counts.
"""

from __future__ import annotations

import json

from tests.service.conftest import ACCOUNT, Call

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ops/deployer"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
        ],
    }
)


def allow(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def test_roles_in_the_account_views(call: Call) -> None:
    managed = call("CreatePolicy", PolicyName="s3", PolicyDocument=allow("s3:*"))["Policy"]
    bound = call("CreatePolicy", PolicyName="bound", PolicyDocument=allow("s3:GetObject", "ec2:*"))[
        "Policy"
    ]
    role = call(
        "CreateRole",
        RoleName="deployer",
        Path="/ops/",
        AssumeRolePolicyDocument=TRUST,
        PermissionsBoundary=bound["Arn"],
    )["Role"]
    call("AttachRolePolicy", RoleName="deployer", PolicyArn=managed["Arn"])
    call("PutRolePolicy", RoleName="deployer", PolicyName="ec2", PolicyDocument=allow("ec2:*"))
    call("CreateUser", UserName="u")
    call("AttachUserPolicy", UserName="u", PolicyArn=managed["Arn"])

    results = call(
        "SimulatePrincipalPolicy",
        PolicySourceArn=ROLE_ARN,
        ActionNames=["s3:GetObject", "s3:PutObject", "ec2:RunInstances", "iam:ListUsers"],
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
    assert decisions == {
        "s3:GetObject": "allowed",  # attached policy, within the boundary
        "s3:PutObject": "implicitDeny",  # outside the boundary
        "ec2:RunInstances": "allowed",  # inline policy
        "iam:ListUsers": "implicitDeny",
    }

    roles_only = call("ListEntitiesForPolicy", PolicyArn=managed["Arn"], EntityFilter="Role")
    assert roles_only["PolicyRoles"] == [{"RoleName": "deployer", "RoleId": role["RoleId"]}]
    assert roles_only["PolicyUsers"] == [] and roles_only["PolicyGroups"] == []
    as_boundary = call(
        "ListEntitiesForPolicy", PolicyArn=bound["Arn"], PolicyUsageFilter="PermissionsBoundary"
    )
    assert as_boundary["PolicyRoles"] == [{"RoleName": "deployer", "RoleId": role["RoleId"]}]
    as_permission = call(
        "ListEntitiesForPolicy", PolicyArn=bound["Arn"], PolicyUsageFilter="PermissionsPolicy"
    )
    assert as_permission["PolicyRoles"] == []

    summary = call("GetAccountSummary")["SummaryMap"]
    assert summary["Roles"] == 1 and summary["RolesQuota"] == 1000
    assert summary["RolePolicySizeQuota"] == 10240
