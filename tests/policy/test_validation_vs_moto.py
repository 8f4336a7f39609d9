"""selfiam's MalformedPolicyDocument answers against moto's validator, an independent
implementation of IAM's recorded answers to CreatePolicy (moto/iam/policy_validation.py).

Random documents mixing valid parts with IAM's usual mistakes; for each, both say accept or
the words IAM answers. Where they differ, it is in documents with several mistakes whose
order IAM does not record (moto reports the last bad resource it met, selfiam the first),
or in an S3 ARN with a regional resource type moto does not know. The share of agreement
is a count over a fixed corpus (seeded), not a timing.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from selfiam.policy import MalformedPolicyError, PolicyKind, parse_policy

validation = pytest.importorskip("moto.iam.policy_validation")
moto_errors = pytest.importorskip("moto.iam.exceptions")

ACTIONS = [
    "s3:GetObject",
    "iam:*",
    "*",
    "iam:Get User",
    "invalid",
    "s3:a:b",
    "a a:x",
    "",
    "ec2:Describe*",
    "*:Get",
    "s3-x:Get",
]
RESOURCES = [
    "*",
    "arn:aws:s3:::b",
    "arn:aws:iam::123456789012:user/x",
    "bucket",
    "",
    "arn:aws:iam:us-east-1::user/x",
    "arn:aws:iam:::x",
    "arn:foo:s3:::b",
    "a:b:c",
    "arn:aws:s3::b",
    "arn:aws",
    "arn:aws:fdsasf",
    "arn:aws::::b",
    "arn:aws:ec2:us-east-1:1:instance/*",
    "arn:aws:s3:us-east-1::b",
]
CONDITIONS: list[Any] = [
    {"StringEquals": {"aws:username": "a"}},
    {"Foo": {}},
    {"Foo": {"a": "b"}},
    {"DateGreaterThan": {"a": "x"}},
    {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    {"StringEquals": {"a": []}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": "a*"}},
    "x",
    [],
    {"StringEquals": "x"},
    {},
]


def _document(rng: random.Random) -> dict[str, Any]:
    def pick(options: list[Any]) -> Any:
        value = rng.choice(options)
        return [value] if rng.random() < 0.3 else value

    def statement() -> dict[str, Any]:
        s: dict[str, Any] = {}
        if rng.random() < 0.9:
            s["Effect"] = (
                rng.choice(["Allow", "Deny", "allow", "x"]) if rng.random() < 0.2 else "Allow"
            )
        r = rng.random()
        if r < 0.85:
            s["Action"] = pick(ACTIONS) if rng.random() < 0.5 else "s3:GetObject"
        elif r < 0.92:
            s["NotAction"] = pick(ACTIONS)
        r = rng.random()
        if r < 0.85:
            s["Resource"] = pick(RESOURCES) if rng.random() < 0.5 else "*"
        elif r < 0.9:
            s["NotResource"] = pick(RESOURCES)
        if rng.random() < 0.3:
            s["Condition"] = rng.choice(CONDITIONS)
        if rng.random() < 0.2:
            s["Sid"] = rng.choice(["a", "b", "A1", ""])
        if rng.random() < 0.03:
            s["Extra"] = 1
        return s

    doc: dict[str, Any] = {}
    if rng.random() < 0.9:
        doc["Version"] = "2012-10-17" if rng.random() < 0.9 else rng.choice(["2008-10-17", "x"])
    n = rng.choice([1, 1, 2, 3])
    doc["Statement"] = (
        [statement() for _ in range(n)] if n > 1 or rng.random() < 0.5 else statement()
    )
    return doc


def _moto(text: str) -> str | None:
    try:
        validation.IAMPolicyDocumentValidator(text).validate()
    except moto_errors.MalformedPolicyDocument as err:
        return str(err.message)
    return None


def _selfiam(text: str) -> str | None:
    try:
        parse_policy(text, PolicyKind.MANAGED, require_current_version=True)
    except MalformedPolicyError as err:
        return err.aws_message
    return None


def test_agrees_with_moto_on_nine_in_ten_random_documents() -> None:
    rng = random.Random(15)
    texts = [json.dumps(_document(rng)) for _ in range(1000)]
    answers = [(_moto(t), _selfiam(t)) for t in texts]
    agree = sum(1 for m, s in answers if m == s)
    # Measured: 959 of these 1000 (70.8% of another 3000 before the phase order was kept).
    assert agree >= 900, [(t, a) for t, a in zip(texts, answers, strict=True) if a[0] != a[1]][:5]
    # Accept or refuse: the same decision but where selfiam follows AWS's quoted answer over
    # moto's: a wildcard vendor ("*:Get", refused by IAM in boogy/iam-policy-validator #172),
    # an empty ARN field inside a Resource list (moto tests the third character, not the third
    # field), an empty string inside a Resource list (moto skips it).
    decided_alike = sum(1 for m, s in answers if (m is None) == (s is None))
    assert decided_alike >= 970
