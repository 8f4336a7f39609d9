"""Policy documents over HTTP with boto3: the API answers IAM's own MalformedPolicyDocument
words (issue 15), and each operation applies IAM's Version rule.

AWS's words are from moto's table of IAM's recorded answers (getmoto/moto
``tests/test_iam/test_iam_policies.py``); the Version rule from "IAM JSON policy elements:
Version" (a missing Version means 2008-10-17) and CreatePolicy's recorded answer "Policy
document must be version 2012-10-17 or greater.", which inline and trust policies do not
give (wercker/step-s3sync #25: "Managed policies require a version string").
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer

pytestmark = pytest.mark.slow

V = "2012-10-17"
OLD_VERSION = "Policy document must be version 2012-10-17 or greater."


def statement(**extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*", **extra}


def doc(*statements: dict[str, Any], version: str | None = V) -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        body = {"Version": version, **body}
    return json.dumps(body)


def trust(version: str | None = V, **extra: Any) -> str:
    return doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
            **extra,
        },
        version=version,
    )


def refused(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    error = err.value.response["Error"]
    return error["Code"], error["Message"]


#: (document, IAM's answer to CreatePolicy)
CASES = [
    ("{not json", "Syntax errors in policy."),
    (doc(statement(), version=None), OLD_VERSION),
    (doc(statement(), version="2008-10-17"), OLD_VERSION),
    (doc(statement(Principal="*")), "Policy document should not specify a principal."),
    (doc(statement(Resource="bucket")), 'Resource bucket must be in ARN format or "*".'),
    (
        doc(statement(Resource="arn:aws:iam:us-east-1:123456789012:user/x")),
        "IAM resource arn:aws:iam:us-east-1:123456789012:user/x cannot contain region information.",
    ),
    (
        doc(statement(Sid="a"), statement(Sid="a")),
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    (doc(statement(Effect="allow")), "The policy failed legacy parsing"),
    (doc(statement(Action="s3:List:Bucket")), "Actions/Condition can contain only one colon."),
    (doc(statement(Unknown="x")), "Syntax errors in policy."),
]


@pytest.mark.parametrize(("document", "message"), CASES, ids=[m for _, m in CASES])
def test_create_policy_answers_iams_words(server: LiveServer, document: str, message: str) -> None:
    iam = server.client()
    assert refused(iam.create_policy, PolicyName="p", PolicyDocument=document) == (
        "MalformedPolicyDocument",
        message,
    )


def test_the_version_rule_per_operation(server: LiveServer) -> None:
    iam = server.client()
    arn = iam.create_policy(PolicyName="versioned", PolicyDocument=doc(statement()))["Policy"][
        "Arn"
    ]
    for version in (None, "2008-10-17"):
        old = doc(statement(), version=version)
        assert refused(iam.create_policy_version, PolicyArn=arn, PolicyDocument=old) == (
            "MalformedPolicyDocument",
            OLD_VERSION,
        )
    iam.create_user(UserName="vera")
    iam.create_group(GroupName="veras")
    iam.create_role(RoleName="old-trust", AssumeRolePolicyDocument=trust(version=None))
    for version in (None, "2008-10-17"):
        old = doc(statement(), version=version)
        iam.put_user_policy(UserName="vera", PolicyName="old", PolicyDocument=old)
        iam.put_group_policy(GroupName="veras", PolicyName="old", PolicyDocument=old)
        iam.put_role_policy(RoleName="old-trust", PolicyName="old", PolicyDocument=old)
        iam.update_assume_role_policy(RoleName="old-trust", PolicyDocument=trust(version))
    assert iam.get_user_policy(UserName="vera", PolicyName="old")["PolicyName"] == "old"


def test_trust_policy_words(server: LiveServer) -> None:
    iam = server.client()
    no_principal = doc({"Effect": "Allow", "Action": "sts:AssumeRole"})
    assert refused(iam.create_role, RoleName="r1", AssumeRolePolicyDocument=no_principal) == (
        "MalformedPolicyDocument",
        "Missing required field Principal.",
    )
    with_resource = trust(Resource="*")
    assert refused(iam.create_role, RoleName="r1", AssumeRolePolicyDocument=with_resource) == (
        "MalformedPolicyDocument",
        "Has prohibited field Resource.",
    )


def test_oddities_iam_accepts(server: LiveServer) -> None:
    iam = server.client()
    odd = doc(
        statement(Action="iam: asdf safdsf af "),
        statement(Condition={"SomeFutureOperator": {}, "StringEquals": {"username": "x"}}),
    )
    iam.create_policy(PolicyName="odd", PolicyDocument=odd)


def test_simulator_answers_iams_words(server: LiveServer) -> None:
    iam = server.client()
    code, message = refused(
        iam.simulate_custom_policy,
        PolicyInputList=[doc(statement(Resource="bucket"))],
        ActionNames=["s3:ListBucket"],
    )
    assert (code, message) == (
        "MalformedPolicyDocument",
        'Resource bucket must be in ARN format or "*".',
    )
