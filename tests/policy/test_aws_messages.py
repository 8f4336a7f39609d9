"""IAM's own MalformedPolicyDocument words, per kind of mistake (issue 15).

The table is IAM's recorded answers to CreatePolicy, as moto keeps them
(getmoto/moto ``tests/test_iam/test_iam_policies.py``: ``invalid_policy_document_test_cases``
and ``valid_policy_documents``), plus answers quoted from AWS in public issues (cited per
row). ``aws_message`` is what the API answers; ``message`` stays selfiam's explanation
(statement, element, why) for ``selfiam policy validate`` and the portal.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from selfiam.policy import MalformedPolicyError, PolicyKind, parse_policy

V = "2012-10-17"
BUCKET = "arn:aws:s3:::example_bucket"


def one(**statement: Any) -> dict[str, Any]:
    return {"Version": V, "Statement": statement}


def allow(**extra: Any) -> dict[str, Any]:
    return one(Effect="Allow", Action="s3:ListBucket", Resource=BUCKET, **extra)


PARTITION_B = 'Partition "b" is not valid for resource "arn:b:cadfsdf:*:*:*".'
IAM_PATH = (
    'IAM resource path must either be "*" or start with user/, federated-user/, role/, '
    "group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, "
    "oidc-provider/, report/, access-report/."
)

#: (document, AWS's message) for a new managed policy (CreatePolicy).
REFUSED: list[tuple[Any, str]] = [
    ("This is not a json document", "Syntax errors in policy."),
    (
        {"Statement": {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET}},
        "Policy document must be version 2012-10-17 or greater.",
    ),
    (
        {
            "Version": "2008-10-17",
            "Statement": {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET},
        },
        "Policy document must be version 2012-10-17 or greater.",
    ),
    (
        {
            "Version": "2013-10-17",
            "Statement": {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET},
        },
        "Syntax errors in policy.",
    ),
    ({"Version": V}, "Syntax errors in policy."),
    ({"Version": V, "Statement": ["afd"]}, "Syntax errors in policy."),
    ({**allow(), "Extra field": "value"}, "Syntax errors in policy."),
    (allow(**{"Extra field": "value"}), "Syntax errors in policy."),
    ({**allow(), "Id": ["x"]}, "Syntax errors in policy."),
    (one(Effect="invalid", Action="s3:ListBucket", Resource=BUCKET), "Syntax errors in policy."),
    (
        one(Effect="Allow", Action="invalid", Resource=BUCKET),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    (
        one(Effect="Allow", NotAction="", Resource=BUCKET),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    (one(Effect="Allow", Action="a a:ListBucket", Resource=BUCKET), "Vendor a a is not valid"),
    (
        one(Effect="Allow", Action="s3:List:Bucket", Resource=BUCKET),
        "Actions/Condition can contain only one colon.",
    ),
    # boogy/iam-policy-validator pull request #172 quotes IAM's answer for "*:Untag*".
    (
        one(Effect="Allow", Action="*:Untag*", Resource="*"),
        "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards",
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource="invalid resource"),
        'Resource invalid resource must be in ARN format or "*".',
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource=""),
        'Resource  must be in ARN format or "*".',
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource=["adf"]),
        'Resource adf must be in ARN format or "*".',
    ),
    (
        one(Effect="Allow", NotAction="s3s:ListBucket", Resource="a:bsdfdsafsad"),
        'Partition "bsdfdsafsad" is not valid for resource "arn:bsdfdsafsad:*:*:*:*".',
    ),
    (one(Effect="Allow", NotAction="s3s:ListBucket", Resource="a:b:cadfsdf"), PARTITION_B),
    (
        one(Effect="Allow", NotAction="s3s:ListBucket", Resource="a:b:c:d:e:f:g:h"),
        'Partition "b" is not valid for resource "arn:b:c:d:e:f:g:h".',
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource="aws:s3:::example_bucket"),
        'Partition "s3" is not valid for resource "arn:s3:::example_bucket:*".',
    ),
    # terraform-aws-modules/terraform-aws-iam issue #39 (an account in another partition).
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource="arn:error:s3:::example_bucket"),
        'Partition "error" is not valid for resource "arn:error:s3:::example_bucket".',
    ),
    ({"Version": V, "Statement": []}, "Syntax errors in policy."),
    (one(Effect="Allow", Action="s3:ListBucket"), "Policy statement must contain resources."),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource=[]),
        "Policy statement must contain resources.",
    ),
    (one(Effect="Allow", Resource=BUCKET), "Policy statement must contain actions."),
    (one(Action="s3:ListBucket", Resource=BUCKET), "Syntax errors in policy."),
    (one(Effect="Allow", Action=[], Resource=BUCKET), "Policy statement must contain actions."),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource="arn:aws:iam:::example_bucket"),
        IAM_PATH,
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource="arn:aws:s3::example_bucket"),
        "The policy failed legacy parsing",
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource="arn:aws"),
        "Resource vendor must be fully qualified and cannot contain regexes.",
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource={"a": BUCKET}),
        "Syntax errors in policy.",
    ),
    (
        one(Effect="Allow", NotAction="s3:ListBucket", Resource=BUCKET, NotResource=[]),
        "Syntax errors in policy.",
    ),
    (one(Effect="Deny", Action=[[]], Resource=BUCKET), "Syntax errors in policy."),
    (allow(Condition=[]), "Syntax errors in policy."),
    (allow(Condition="a"), "Syntax errors in policy."),
    (allow(Condition={"a": "b"}), "Syntax errors in policy."),
    (allow(Condition={"DateGreaterThan": "b"}), "Syntax errors in policy."),
    (allow(Condition={"DateGreaterThan": {"a": {}}}), "Syntax errors in policy."),
    (allow(Condition={"x": {"a": "1"}}), "Syntax errors in policy."),
    (
        allow(Condition={"ForAnyValue::StringEqualsIfExists": {"a": "asf"}}),
        "Syntax errors in policy.",
    ),
    # A region in an IAM ARN (also quoted from AWS in aws/aws-cdk issue #13104).
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource="arn:aws:iam:us-east-1::user/x"),
        "IAM resource arn:aws:iam:us-east-1::user/x cannot contain region information.",
    ),
    # A region in a bucket's ARN (quoted from AWS in aws/aws-cdk issue #22445).
    (
        one(
            Effect="Allow", Action="s3:ListBucket", Resource="arn:aws:s3:us-east-1::example_bucket"
        ),
        "Resource arn:aws:s3:us-east-1::example_bucket can not contain region information.",
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Sid={}, Resource=BUCKET),
        "Syntax errors in policy.",
    ),
    (
        {
            "Version": V,
            "Statement": [
                {"Sid": "sdf", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET},
                {"Sid": "sdf", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET},
            ],
        },
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    (
        {
            "Statement": [
                {"Sid": "sdf", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET},
                {"Sid": "sdf", "Effect": "Allow"},
            ]
        },
        "Policy document must be version 2012-10-17 or greater.",
    ),
    (
        one(Effect="Allow", NotAction="s3:ListBucket", Action="iam:dsf", Resource=BUCKET),
        "Syntax errors in policy.",
    ),
    (
        one(Effect="denY", Action="s3:ListBucket", Resource=BUCKET),
        "The policy failed legacy parsing",
    ),
    (allow(Condition={"DateGreaterThan": {"a": "sdfdsf"}}), "The policy failed legacy parsing"),
    (
        {"Statement": {"Effect": "denY", "Action": "s3:ListBucket", "Resource": BUCKET}},
        "Policy document must be version 2012-10-17 or greater.",
    ),
    (
        one(Effect="Allow", NotAction="s3:ListBucket", Resource="arn:aws::::example_bucket"),
        "The policy failed legacy parsing",
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", NotResource="arn:aws:s3::example_bucket"),
        "The policy failed legacy parsing",
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource="arn:aws::fdsasf"),
        "The policy failed legacy parsing",
    ),
    (
        one(Effect="Allow", Action="s3:ListBucket", Resource="*", Principal="*"),
        "Policy document should not specify a principal.",
    ),
    (
        one(Sid="a-b", Effect="Allow", Action="s3:ListBucket", Resource="*"),
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular "
        "expression [0-9A-Za-z]*",
    ),
]

#: Documents IAM accepts (moto's ``valid_policy_documents``) that selfiam refused before.
ACCEPTED: list[dict[str, Any]] = [
    one(Effect="Allow", Action="iam: asdf safdsf af ", Resource=BUCKET),
    one(Effect="Allow", Action="s3:ListBucket", Resource="arn:aws:iam:::user/example_bucket"),
    one(Effect="Allow", Action="s3:ListBucket", Resource="arn:aws:fdsasf"),
    one(Effect="Allow", Action="s3:ListBucket", Resource="arn:aws:ec2:us-east-1::example_bucket"),
    allow(Condition={}),
    allow(Condition={"DateGreaterThan": {}}),
    allow(Condition={"DateGreaterThan": {"a": []}}),
    allow(Condition={"a": {}}),
    allow(Condition={"x": {}, "y": {}}),
    allow(Condition={"StringEqualsIfExists": {"a": "asf"}}),
    allow(Condition={"ForAnyValue:StringEqualsIfExists": {"a": "asf"}}),
    allow(Condition={"DateLessThanEquals": {"a": "2019-07-01T13:20:15Z"}}),
    one(Effect="Allow", Action="s3-s:ListBucket", Resource=BUCKET),
    one(Effect="Allow", Action="s3.s:ListBucket", Resource=BUCKET),
    one(Effect="Allow", Action="aaaaaadsfdsafsadfsadfaaaaa:ListBucket", Resource=BUCKET),
    one(Effect="Allow", NotAction="s3:ListBucket", NotResource="*"),
]


def _text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


@pytest.mark.parametrize(("document", "aws"), REFUSED, ids=[m for _, m in REFUSED])
def test_create_policy_answers_aws_words(document: Any, aws: str) -> None:
    with pytest.raises(MalformedPolicyError) as err:
        parse_policy(_text(document), PolicyKind.MANAGED, require_current_version=True)
    assert err.value.aws_message == aws
    assert err.value.message  # the precise explanation is still there for a person


@pytest.mark.parametrize("document", ACCEPTED, ids=[json.dumps(d) for d in ACCEPTED])
def test_create_policy_accepts_what_aws_accepts(document: dict[str, Any]) -> None:
    parse_policy(_text(document), PolicyKind.MANAGED, require_current_version=True)


def test_the_explanation_still_says_where() -> None:
    doc = {
        "Version": V,
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET},
            {"Sid": "Two", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "bucket"},
        ],
    }
    with pytest.raises(MalformedPolicyError) as err:
        parse_policy(json.dumps(doc))
    assert err.value.aws_message == 'Resource bucket must be in ARN format or "*".'
    assert 'statement 2 (Sid "Two"), Resource' in err.value.message


@pytest.mark.parametrize("kind", [PolicyKind.INLINE_USER, PolicyKind.INLINE_ROLE, PolicyKind.TRUST])
@pytest.mark.parametrize("version", [None, "2008-10-17"])
def test_inline_and_trust_policies_keep_the_old_version(
    kind: PolicyKind, version: str | None
) -> None:
    """Only a managed policy must say 2012-10-17: inline and trust policies default to
    2008-10-17 (IAM JSON policy elements: Version; wercker/step-s3sync #25 "Managed
    policies require a version string"; Netflix/security_monkey #210)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "sts:AssumeRole"}
    if kind is PolicyKind.TRUST:
        statement["Principal"] = {"Service": "ec2.amazonaws.com"}
    else:
        statement["Resource"] = "*"
    doc: dict[str, Any] = {"Statement": [statement]}
    if version:
        doc["Version"] = version
    assert parse_policy(json.dumps(doc), kind).version == version


def test_trust_policy_words() -> None:
    no_principal = {"Version": V, "Statement": {"Effect": "Allow", "Action": "sts:AssumeRole"}}
    with pytest.raises(MalformedPolicyError) as err:
        parse_policy(json.dumps(no_principal), PolicyKind.TRUST)
    assert err.value.aws_message == "Missing required field Principal."
    with_resource = {
        "Version": V,
        "Statement": {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "*",
            "Principal": {"Service": "ec2.amazonaws.com"},
        },
    }
    with pytest.raises(MalformedPolicyError) as err:
        parse_policy(json.dumps(with_resource), PolicyKind.TRUST)
    assert err.value.aws_message == "Has prohibited field Resource."


def test_every_aws_managed_policy_is_accepted() -> None:
    """AWS's own 1,594 managed policies pass CreatePolicy's checks (the size quota aside):
    no stricter rule here may refuse a document AWS itself ships (arn:aws:iam::*:root)."""
    from selfiam.catalog.managed_policies import load_dataset

    refused = []
    for managed in load_dataset().policies:
        try:
            parse_policy(
                managed.document,
                PolicyKind.MANAGED,
                enforce_size=False,
                require_current_version=True,
            )
        except MalformedPolicyError as err:
            refused.append((managed.name, err.message))
    assert refused == []
