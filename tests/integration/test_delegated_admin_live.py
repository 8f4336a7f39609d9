"""AWS's delegated-administrator example, end to end over HTTP with boto3 (issue 15).

The IAM User Guide ("Permissions boundaries for IAM entities", "Delegating responsibility
to others using permissions boundaries") gives María, a delegated admin, the boundary
DelegatedUserBoundary with the statements CreateOrChangeOnlyWithBoundary,
CloudWatchAndOtherIAMTasks, NoBoundaryPolicyEdit and NoBoundaryUserDelete, beside a broad
permissions policy: she may create users only with the XCompanyBoundaries boundary,
manage the policies of users that have it, and never remove or alter a boundary. It works
only if every one of those operations carries ``iam:PermissionsBoundary``, the target's
boundary (or the one the request sets), as AWS does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer

pytestmark = pytest.mark.slow

DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def _denied(err: pytest.ExceptionInfo[ClientError]) -> str:
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    message: str = err.value.response["Error"]["Message"]
    return message


def _delegated_user_boundary(account: str) -> str:
    """AWS's DelegatedUserBoundary, with this account's ARNs."""
    xcompany = f"arn:aws:iam::{account}:policy/XCompanyBoundaries"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CreateOrChangeOnlyWithBoundary",
                    "Effect": "Allow",
                    "Action": [
                        "iam:CreateUser",
                        "iam:DeleteUserPolicy",
                        "iam:AttachUserPolicy",
                        "iam:DetachUserPolicy",
                        "iam:PutUserPermissionsBoundary",
                        "iam:PutUserPolicy",
                    ],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"iam:PermissionsBoundary": xcompany}},
                },
                {
                    "Sid": "CloudWatchAndOtherIAMTasks",
                    "Effect": "Allow",
                    "Action": [
                        "cloudwatch:*",
                        "iam:GetUser",
                        "iam:ListUsers",
                        "iam:DeleteUser",
                        "iam:UpdateUser",
                        "iam:CreateAccessKey",
                        "iam:CreateLoginProfile",
                        "iam:GetAccountPasswordPolicy",
                        "iam:GetLoginProfile",
                        "iam:ListGroups",
                        "iam:ListGroupsForUser",
                        "iam:CreateGroup",
                        "iam:GetGroup",
                        "iam:DeleteGroup",
                        "iam:UpdateGroup",
                        "iam:CreatePolicy",
                        "iam:DeletePolicy",
                        "iam:DeletePolicyVersion",
                        "iam:GetPolicy",
                        "iam:GetPolicyVersion",
                        "iam:GetUserPolicy",
                        "iam:GetRolePolicy",
                        "iam:ListAttachedUserPolicies",
                        "iam:ListPolicies",
                        "iam:ListPolicyVersions",
                        "iam:ListUserPolicies",
                        "iam:SetDefaultPolicyVersion",
                        "iam:CreatePolicyVersion",
                        "iam:SimulatePrincipalPolicy",
                        "iam:SimulateCustomPolicy",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "NoBoundaryPolicyEdit",
                    "Effect": "Deny",
                    "Action": [
                        "iam:CreatePolicyVersion",
                        "iam:DeletePolicy",
                        "iam:DeletePolicyVersion",
                        "iam:SetDefaultPolicyVersion",
                    ],
                    "Resource": [
                        xcompany,
                        f"arn:aws:iam::{account}:policy/DelegatedUserBoundary",
                    ],
                },
                {
                    "Sid": "NoBoundaryUserDelete",
                    "Effect": "Deny",
                    "Action": "iam:DeleteUserPermissionsBoundary",
                    "Resource": "*",
                },
            ],
        }
    )


def _xcompany_boundaries() -> str:
    """What users María creates may do at most: some services, no IAM."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ServiceBoundaries",
                    "Effect": "Allow",
                    "Action": ["s3:*", "cloudwatch:*", "ec2:*"],
                    "Resource": "*",
                }
            ],
        }
    )


def _arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:policy/{name}"


def _setup(server: LiveServer) -> tuple[Any, Any, str]:
    """(the admin's client, María's client, the account)."""
    admin = server.client()
    account = server.account_id
    admin.create_policy(PolicyName="XCompanyBoundaries", PolicyDocument=_xcompany_boundaries())
    admin.create_policy(
        PolicyName="DelegatedUserBoundary", PolicyDocument=_delegated_user_boundary(account)
    )
    admin.create_policy(PolicyName="AppAccess", PolicyDocument=json.dumps(DOC))
    admin.create_policy(PolicyName="Unbounded", PolicyDocument=json.dumps(DOC))
    admin.create_user(UserName="maria", PermissionsBoundary=_arn(account, "DelegatedUserBoundary"))
    # Her permissions policy is broad: the boundary is what keeps her in line.
    admin.put_user_policy(
        UserName="maria",
        PolicyName="DelegatedUserPermissions",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["iam:*", "cloudwatch:*"], "Resource": "*"}
                ],
            }
        ),
    )
    admin.create_user(UserName="legacy")  # made before the rules: no boundary
    key = admin.create_access_key(UserName="maria")["AccessKey"]
    maria = server.client(key["AccessKeyId"], key["SecretAccessKey"])
    return admin, maria, account


def test_delegated_admin_policy_from_the_user_guide(server: LiveServer) -> None:
    admin, maria, account = _setup(server)
    xcompany = _arn(account, "XCompanyBoundaries")
    me = f"arn:aws:iam::{account}:user/maria"

    # She creates users only with the XCompanyBoundaries boundary.
    maria.create_user(UserName="dev1", PermissionsBoundary=xcompany)
    with pytest.raises(ClientError) as err:
        maria.create_user(UserName="dev2")
    assert _denied(err) == (
        f"User: {me} is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{account}:user/dev2 because no permissions boundary allows the "
        "iam:CreateUser action"
    )
    with pytest.raises(ClientError) as err:
        maria.create_user(UserName="dev3", PermissionsBoundary=_arn(account, "Unbounded"))
    _denied(err)
    names = {u["UserName"] for u in admin.list_users()["Users"]}
    assert "dev1" in names and not {"dev2", "dev3"} & names

    # She manages the policies of a user that has the boundary ...
    maria.put_user_policy(UserName="dev1", PolicyName="apps", PolicyDocument=json.dumps(DOC))
    maria.attach_user_policy(UserName="dev1", PolicyArn=_arn(account, "AppAccess"))
    maria.detach_user_policy(UserName="dev1", PolicyArn=_arn(account, "AppAccess"))
    maria.delete_user_policy(UserName="dev1", PolicyName="apps")
    maria.put_user_permissions_boundary(UserName="dev1", PermissionsBoundary=xcompany)

    # ... and of no other user (the key is absent: the user has no boundary) ...
    for call, params in (
        (maria.attach_user_policy, {"PolicyArn": _arn(account, "AppAccess")}),
        (maria.put_user_policy, {"PolicyName": "x", "PolicyDocument": json.dumps(DOC)}),
        (maria.delete_user_policy, {"PolicyName": "x"}),
    ):
        with pytest.raises(ClientError) as err:
            call(UserName="legacy", **params)
        assert "because no permissions boundary allows" in _denied(err)
    # ... though she may bring one under the rules by giving it the boundary.
    maria.put_user_permissions_boundary(UserName="legacy", PermissionsBoundary=xcompany)
    maria.attach_user_policy(UserName="legacy", PolicyArn=_arn(account, "AppAccess"))

    # She cannot remove or change a boundary.
    with pytest.raises(ClientError) as err:
        maria.delete_user_permissions_boundary(UserName="dev1")
    assert _denied(err) == (
        f"User: {me} is not authorized to perform: iam:DeleteUserPermissionsBoundary on "
        f"resource: arn:aws:iam::{account}:user/dev1 with an explicit deny in a "
        "permissions boundary"
    )
    with pytest.raises(ClientError) as err:
        maria.put_user_permissions_boundary(
            UserName="dev1", PermissionsBoundary=_arn(account, "Unbounded")
        )
    _denied(err)
    with pytest.raises(ClientError) as err:
        maria.delete_user_permissions_boundary(UserName="maria")
    _denied(err)
    user = admin.get_user(UserName="dev1")["User"]
    assert user["PermissionsBoundary"]["PermissionsBoundaryArn"] == xcompany
    assert "PermissionsBoundary" in admin.get_user(UserName="maria")["User"]

    # She cannot edit the boundary policies (hers included), though other policies, yes.
    for name in ("XCompanyBoundaries", "DelegatedUserBoundary"):
        arn = _arn(account, name)
        for call, params in (
            (maria.create_policy_version, {"PolicyDocument": json.dumps(DOC)}),
            (maria.set_default_policy_version, {"VersionId": "v1"}),
            (maria.delete_policy_version, {"VersionId": "v1"}),
            (maria.delete_policy, {}),
        ):
            with pytest.raises(ClientError) as err:
                call(PolicyArn=arn, **params)
            assert _denied(err).endswith("with an explicit deny in a permissions boundary")
    assert len(admin.list_policy_versions(PolicyArn=xcompany)["Versions"]) == 1
    maria.create_policy_version(
        PolicyArn=_arn(account, "AppAccess"), PolicyDocument=json.dumps(DOC), SetAsDefault=True
    )

    # The users she creates are held by XCompanyBoundaries whatever she grants them.
    maria.put_user_policy(
        UserName="dev1",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = maria.create_access_key(UserName="dev1")["AccessKey"]
    dev1 = server.client(key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as err:
        dev1.list_users()
    assert _denied(err).endswith("because no permissions boundary allows the iam:ListUsers action")
