"""Fuzz parse_policy: any input gives a Policy or MalformedPolicyError, never another error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfiam.policy import (
    MalformedPolicyError,
    Policy,
    PolicyKind,
    Request,
    RequestContext,
    evaluate,
    parse_policy,
)

KINDS = st.sampled_from(list(PolicyKind))

# Values seen in policies, so the fuzzer gets past the first checks often.
policy_words = st.sampled_from(
    [
        "2012-10-17",
        "2008-10-17",
        "Allow",
        "Deny",
        "*",
        "iam:*",
        "iam:Get*",
        "s3:GetObject",
        "arn:aws:iam::123456789012:user/${aws:username}",
        "arn:aws:s3:::b/*",
        "arn:aws:iam::123456789012:root",
        "123456789012",
        "${aws:username",
        "aws:username",
        "true",
        "",
    ]
)
keys = st.sampled_from(
    [
        "Version",
        "Id",
        "Statement",
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
        "AWS",
        "Service",
        "StringEquals",
        "Bool",
        "ForAllValues:StringLike",
        "aws:username",
        "x",
    ]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | policy_words
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(keys | st.text(), children, max_size=5)
    ),
    max_leaves=30,
)


def check(text: str, kind: PolicyKind) -> None:
    try:
        policy = parse_policy(text, kind)
    except MalformedPolicyError as exc:
        assert isinstance(exc.message, str) and exc.message
        return
    assert isinstance(policy, Policy)
    lines = text.split("\n")
    for stmt in policy.statements:
        assert stmt.start[0] >= 1 and stmt.end > stmt.start
        # The positions point at the statement's own braces.
        assert lines[stmt.start[0] - 1][stmt.start[1] - 1] == "{"
        assert lines[stmt.end[0] - 1][stmt.end[1] - 1] == "}"
    request = Request(
        "iam:GetUser",
        "arn:aws:iam::123456789012:user/alice",
        RequestContext({"aws:username": "alice"}),
        principal_arn="arn:aws:iam::123456789012:user/alice",
    )
    if kind.takes_principal:
        assert evaluate(request, [], resource_policy=policy).decision in (
            "allowed",
            "explicitDeny",
            "implicitDeny",
        )
    else:
        assert evaluate(request, [policy]).decision in ("allowed", "explicitDeny", "implicitDeny")


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, KINDS, st.booleans())
def test_arbitrary_json(value: Any, kind: PolicyKind, indent: bool) -> None:
    check(json.dumps(value, indent=2 if indent else None), kind)


statement_like = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]) | scalars, "Action": json_values},
    optional={
        "Resource": json_values,
        "Principal": json_values,
        "Condition": json_values,
        "Sid": scalars,
        "NotResource": json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(statement_like, min_size=1, max_size=3), KINDS)
def test_nearly_valid_documents(statements: list[dict[str, Any]], kind: PolicyKind) -> None:
    check(json.dumps({"Version": "2012-10-17", "Statement": statements}), kind)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300), KINDS)
def test_arbitrary_text(text: str, kind: PolicyKind) -> None:
    check(text, kind)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]",: \n\\tuStatement0123', max_size=200), KINDS)
def test_json_shaped_text(text: str, kind: PolicyKind) -> None:
    check(text, kind)
