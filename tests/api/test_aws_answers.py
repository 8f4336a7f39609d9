"""Issue 15's examples of AWS's recorded answers, one row each, checked on the wire.

Each row: what the account holds first (root calls), one signed Query request from an
administrator, and what AWS's recorded answer is: the HTTP status, the error code, and
text the body must or must not hold. The service tests check the same answers one by
one (test_groups, test_access_keys, test_managed_policies, test_account,
test_credential_report); this table checks what reaches a client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.api.conftest import Api, error_code, error_message

from selfiam.domain.arns import aws_managed_policy_arn

ACCOUNT = "123456789012"
ADMIN = aws_managed_policy_arn("AdministratorAccess")
DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


@dataclass
class Row:
    name: str
    params: dict[str, str]
    status: int
    code: str | None = None
    message: str | None = None  # None: not checked; "": no Message element at all
    contains: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    setup: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


ROWS = [
    Row(
        "RemoveUserFromGroup of a user not in the group succeeds",
        {"Action": "RemoveUserFromGroup", "GroupName": "devs", "UserName": "alice"},
        200,
        setup=[("CreateGroup", {"GroupName": "devs"})],
    ),
    Row(
        "GetAccessKeyLastUsed of an unknown key is AccessDenied, not NoSuchEntity",
        {"Action": "GetAccessKeyLastUsed", "AccessKeyId": "AKIAAAAAAAAAAAAAAAAA"},
        403,
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform"
        " iam:GetAccessKeyLastUsed on resource: access key AKIAAAAAAAAAAAAAAAAA",
    ),
    Row(
        "DeletePolicy of an AWS-managed policy is AccessDenied",
        {"Action": "DeletePolicy", "PolicyArn": aws_managed_policy_arn("IAMReadOnlyAccess")},
        403,
        "AccessDenied",
    ),
    Row(
        "AttachUserPolicy with something that is not an ARN is ValidationError",
        {
            "Action": "AttachUserPolicy",
            "UserName": "alice",
            "PolicyArn": "this-is-not-an-arn-at-all",
        },
        400,
        "ValidationError",
        "ARN this-is-not-an-arn-at-all is not valid.",
    ),
    Row(
        "policy tag keys a and A are two tags",
        {
            "Action": "CreatePolicy",
            "PolicyName": "tagged",
            "PolicyDocument": DOC,
            "Tags.member.1.Key": "a",
            "Tags.member.1.Value": "1",
            "Tags.member.2.Key": "A",
            "Tags.member.2.Value": "2",
        },
        200,
        contains=("<Key>a</Key>", "<Key>A</Key>"),
    ),
    Row(
        "GetPolicy answers an empty Tags list",
        {"Action": "GetPolicy", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/plain"},
        200,
        contains=("<Tags/>",),
        setup=[("CreatePolicy", {"PolicyName": "plain", "PolicyDocument": DOC})],
    ),
    Row(
        "CreatePolicy does not echo Description",
        {
            "Action": "CreatePolicy",
            "PolicyName": "described",
            "PolicyDocument": DOC,
            "Description": "for the team",
        },
        200,
        lacks=("<Description>", "for the team"),
    ),
    Row(
        "GetAccountSummary includes AccountPasswordPresent",
        {"Action": "GetAccountSummary"},
        200,
        contains=("<key>AccountPasswordPresent</key>",),
    ),
    Row(
        "SimulatePrincipalPolicy includes OrganizationsDecisionDetail",
        {
            "Action": "SimulatePrincipalPolicy",
            "PolicySourceArn": f"arn:aws:iam::{ACCOUNT}:user/alice",
            "ActionNames.member.1": "iam:GetUser",
        },
        200,
        contains=("<OrganizationsDecisionDetail><AllowedByOrganizations>true",),
    ),
    Row(
        "GetCredentialReport before any report carries no message",
        {"Action": "GetCredentialReport"},
        410,
        "ReportNotPresent",
        "",
    ),
    Row(
        "CreatePolicy without Version: IAM's words, not selfiam's explanation",
        {
            "Action": "CreatePolicy",
            "PolicyName": "old",
            "PolicyDocument": json.dumps(
                {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
            ),
        },
        400,
        "MalformedPolicyDocument",
        "Policy document must be version 2012-10-17 or greater.",
    ),
    Row(
        "PutUserPolicy with a Principal: IAM's words",
        {
            "Action": "PutUserPolicy",
            "UserName": "alice",
            "PolicyName": "p",
            "PolicyDocument": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}
                    ],
                }
            ),
        },
        400,
        "MalformedPolicyDocument",
        "Policy document should not specify a principal.",
    ),
]


@pytest.fixture
def admin(api: Api) -> Api:
    api.root("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    return api


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_aws_recorded_answer(admin: Api, row: Row) -> None:
    for operation, params in row.setup:
        admin.root(operation, **params)
    status, text = admin.send({"Version": "2010-05-08", **row.params}, service="iam")
    assert status == row.status, text
    if row.code is not None:
        assert error_code(text) == row.code
    if row.message == "":
        assert "<Message>" not in text
    elif row.message is not None:
        assert error_message(text) == row.message
    for needle in row.contains:
        assert needle in text
    for needle in row.lacks:
        assert needle not in text
