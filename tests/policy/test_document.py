"""parse_policy: IAM's validation rules (CreatePolicy / PutUserPolicy / CreateRole).

Sources: "IAM JSON policy element reference" and "IAM JSON policy grammar" (elements, types,
Version values), "IAM and AWS STS quotas" (sizes), and IAM's MalformedPolicyDocument
answers as reported in public issue threads ("Policy document should not specify a
principal.", "Has prohibited field Resource", "Policy statement must contain resources.").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from selfiam.policy import (
    MalformedPolicyError,
    PolicyKind,
    PolicySizeExceededError,
    parse_policy,
)
from selfiam.policy.limits import policy_size

ALLOW_ALL: dict[str, Any] = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def doc(*statements: dict[str, Any], **top: Any) -> str:
    body: dict[str, Any] = {"Version": "2012-10-17"}
    body.update(top)
    body["Statement"] = list(statements)
    return json.dumps(body)


def stmt(**elements: Any) -> dict[str, Any]:
    out = dict(ALLOW_ALL)
    for key, value in elements.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# (case id, source, text, kind, expected message fragment)
MALFORMED: list[tuple[str, str, str, PolicyKind, str]] = [
    (
        "invalid-json",
        "JSON grammar",
        '{"Version": "2012-10-17",\n "Statement": [}',
        PolicyKind.MANAGED,
        "Syntax errors in policy: Expecting value at line 2, column 16",
    ),
    (
        "not-an-object",
        "policy grammar: policy = {...}",
        "[1, 2]",
        PolicyKind.MANAGED,
        "the policy must be a JSON object",
    ),
    (
        "nan",
        "JSON has no NaN",
        '{"Version": NaN, "Statement": []}',
        PolicyKind.MANAGED,
        "NaN is not valid JSON",
    ),
    (
        "duplicate-top-key",
        "JSON objects with unique names (RFC 8259)",
        '{"Version": "2012-10-17",\n "Version": "2012-10-17", "Statement": []}',
        PolicyKind.MANAGED,
        'duplicate key "Version" at line 2, column 2',
    ),
    (
        "duplicate-statement-key",
        "JSON objects with unique names",
        '{"Statement": {"Effect": "Allow", "Effect": "Deny", "Action": "*", "Resource": "*"}}',
        PolicyKind.MANAGED,
        'duplicate key "Effect" at line 1, column 35',
    ),
    (
        "unknown-top",
        "policy grammar",
        doc(ALLOW_ALL, Foo=1),
        PolicyKind.MANAGED,
        'unknown element "Foo" at the top level',
    ),
    (
        "bad-version",
        "Version element",
        doc(ALLOW_ALL, Version="2020-01-01"),
        PolicyKind.MANAGED,
        'Invalid policy Version "2020-01-01"',
    ),
    (
        "version-not-string",
        "Version element",
        doc(ALLOW_ALL, Version=2012),
        PolicyKind.MANAGED,
        "Invalid policy Version 2012",
    ),
    (
        "id-not-string",
        "Id element",
        doc(ALLOW_ALL, Id=5),
        PolicyKind.MANAGED,
        "Id must be a string",
    ),
    (
        "no-statement",
        "Statement element",
        '{"Version": "2012-10-17"}',
        PolicyKind.MANAGED,
        "Missing required field Statement",
    ),
    (
        "empty-statement-list",
        "Statement element",
        doc(),
        PolicyKind.MANAGED,
        "Statement must be an object or a non-empty list",
    ),
    (
        "statement-string",
        "Statement element",
        '{"Statement": "x"}',
        PolicyKind.MANAGED,
        "Statement must be an object or a non-empty list",
    ),
    (
        "statement-item-not-object",
        "Statement element",
        '{"Statement": [1]}',
        PolicyKind.MANAGED,
        "statement 1 must be a JSON object",
    ),
    (
        "unknown-element",
        "Statement grammar",
        doc(stmt(Foo="x")),
        PolicyKind.MANAGED,
        'unknown element "Foo" (statement 1)',
    ),
    (
        "sid-not-string",
        "Sid element",
        doc(stmt(Sid=1)),
        PolicyKind.MANAGED,
        "Sid must be a string (statement 1)",
    ),
    (
        "sid-not-alnum",
        "Sid element: IAM allows [A-Za-z0-9]",
        doc(stmt(Sid="a b")),
        PolicyKind.MANAGED,
        "Statement IDs (SID) must be alpha-numeric",
    ),
    (
        "sid-duplicate",
        "Sid element: unique within a policy",
        doc(stmt(Sid="One"), stmt(Sid="One")),
        PolicyKind.MANAGED,
        'Statement IDs (SID) in a single policy must be unique. (duplicate Sid "One" in statement 2)',
    ),
    (
        "effect-missing",
        "Effect element: required",
        doc(stmt(Effect=None)),
        PolicyKind.MANAGED,
        "Missing required field Effect (statement 1)",
    ),
    (
        "effect-lowercase",
        "Effect element: Allow or Deny",
        doc(stmt(Effect="allow")),
        PolicyKind.MANAGED,
        'Invalid effect: "allow"',
    ),
    (
        "action-missing",
        "Action element",
        doc(stmt(Action=None)),
        PolicyKind.MANAGED,
        "Policy statement must contain actions. (statement 1)",
    ),
    (
        "action-and-notaction",
        "NotAction element",
        doc(stmt(NotAction="s3:*")),
        PolicyKind.MANAGED,
        "only one of Action and NotAction",
    ),
    (
        "action-empty",
        "Action element",
        doc(stmt(Action=[])),
        PolicyKind.MANAGED,
        "Policy statement must contain actions.",
    ),
    (
        "action-number",
        "Action element: string or array",
        doc(stmt(Action=3)),
        PolicyKind.MANAGED,
        "Action must be a string or a list of strings (statement 1)",
    ),
    (
        "action-no-vendor",
        "Action element: service:action",
        doc(stmt(Action="ListUsers")),
        PolicyKind.MANAGED,
        "(statement 1, Action)",
    ),
    (
        "resource-missing",
        "Resource element: required in identity policies",
        doc(stmt(Resource=None, Sid="S1")),
        PolicyKind.MANAGED,
        'Policy statement must contain resources. (statement 1 (Sid "S1"))',
    ),
    (
        "resource-and-notresource",
        "NotResource element",
        doc(stmt(NotResource="arn:aws:s3:::b")),
        PolicyKind.MANAGED,
        "only one of Resource and NotResource",
    ),
    (
        "resource-object",
        "Resource element",
        doc(stmt(Resource={"a": 1})),
        PolicyKind.MANAGED,
        "Resource must be a string or a list of strings",
    ),
    (
        "resource-bad-arn",
        "Resource element: an ARN or *",
        doc(stmt(Resource="bucket")),
        PolicyKind.MANAGED,
        "(statement 1, Resource)",
    ),
    (
        "principal-in-identity",
        "Principal: not in identity-based policies",
        doc(stmt(Principal="*")),
        PolicyKind.MANAGED,
        "Policy document should not specify a principal.",
    ),
    (
        "notprincipal-in-inline",
        "NotPrincipal: not in identity-based policies",
        doc(stmt(NotPrincipal={"AWS": "123456789012"})),
        PolicyKind.INLINE_USER,
        "Policy document should not specify a principal.",
    ),
    (
        "principal-in-boundary",
        "Principal in a permissions boundary",
        doc(stmt(Principal="*")),
        PolicyKind.BOUNDARY,
        "Policy document should not specify a principal.",
    ),
    (
        "principal-missing-trust",
        "Principal: required in trust policies",
        doc({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        PolicyKind.TRUST,
        "Missing required field Principal. (statement 1)",
    ),
    (
        "principal-missing-resource",
        "Principal: required in resource-based policies",
        doc(ALLOW_ALL),
        PolicyKind.RESOURCE,
        "Missing required field Principal",
    ),
    (
        "resource-in-trust",
        "IAM: Has prohibited field Resource",
        doc(stmt(Principal={"Service": "ec2.amazonaws.com"}, Action="sts:AssumeRole")),
        PolicyKind.TRUST,
        "Has prohibited field Resource. (statement 1)",
    ),
    (
        "principal-bad-type",
        "Principal element: AWS/Service/Federated/CanonicalUser",
        doc(stmt(Principal={"User": "bob"})),
        PolicyKind.RESOURCE,
        'Invalid principal in policy: "User":"bob"',
    ),
    (
        "principal-bad-arn",
        "Principal element: AWS account or IAM ARN",
        doc(stmt(Principal={"AWS": "bob"})),
        PolicyKind.RESOURCE,
        'Invalid principal in policy: "AWS":"bob"',
    ),
    (
        "principal-wildcard-arn",
        "Principal element: no wildcards except *",
        doc(stmt(Principal={"AWS": "arn:aws:iam::123456789012:user/*"})),
        PolicyKind.RESOURCE,
        "Invalid principal in policy",
    ),
    (
        "principal-empty",
        "Principal element",
        doc(stmt(Principal={})),
        PolicyKind.RESOURCE,
        "Invalid principal in policy",
    ),
    (
        "principal-number",
        "Principal element",
        doc(stmt(Principal=5)),
        PolicyKind.RESOURCE,
        "Invalid principal in policy: 5",
    ),
    (
        "both-principals",
        "NotPrincipal element",
        doc(stmt(Principal="*", NotPrincipal="*")),
        PolicyKind.RESOURCE,
        "only one of Principal and NotPrincipal",
    ),
    (
        "condition-list",
        "Condition element: a block",
        doc(stmt(Condition=["x"])),
        PolicyKind.MANAGED,
        "Condition must be a JSON object (statement 1)",
    ),
    (
        "condition-bad-operator",
        "Condition operators",
        doc(stmt(Condition={"NoSuchOperator": {"aws:username": "a"}})),
        PolicyKind.MANAGED,
        "statement 1",
    ),
]


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [pytest.param(t, k, m, id=f"{case} [{source}]") for case, source, t, k, m in MALFORMED],
)
def test_malformed(text: str, kind: PolicyKind, message: str) -> None:
    with pytest.raises(MalformedPolicyError) as info:
        parse_policy(text, kind)
    assert message in info.value.message
    assert not isinstance(info.value, PolicySizeExceededError)


@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        (PolicyKind.MANAGED, 6144),
        (PolicyKind.BOUNDARY, 6144),
        (PolicyKind.INLINE_USER, 2048),
        (PolicyKind.INLINE_GROUP, 5120),
        (PolicyKind.INLINE_ROLE, 10240),
        (PolicyKind.SESSION, 2048),
        (PolicyKind.TRUST, 2048),
    ],
)
def test_size_quota_counts_without_whitespace(kind: PolicyKind, limit: int) -> None:
    """IAM and AWS STS quotas: sizes are counted without white space."""

    def sized(n: int) -> str:
        base = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole"'
        base += ',"Principal":{"AWS":"123456789012"}' if kind is PolicyKind.TRUST else ""
        base += "" if kind is PolicyKind.TRUST else ',"Resource":"*"'
        pad = n - len(base) - len(',"Sid":""}}')
        return base + ',"Sid":"' + "A" * pad + '"}}'

    at_limit = sized(limit)
    assert policy_size(at_limit) == limit
    parse_policy(",   \n".join(at_limit.split(",")), kind)  # white space is free
    with pytest.raises(PolicySizeExceededError) as info:
        parse_policy(sized(limit + 1), kind)
    assert info.value.message == f"Cannot exceed quota for PolicySize: {limit}"
    assert info.value.limit == limit
    if kind is PolicyKind.INLINE_USER:
        assert info.value.inline_message("alice") == (
            "Maximum policy size of 2048 bytes exceeded for user alice"
        )


def test_valid_forms() -> None:
    """Policy grammar: Statement as one object; strings or lists; Version optional."""
    single = parse_policy(
        '{"Statement": {"Effect": "Deny", "NotAction": "iam:*", "NotResource": "*"}}'
    )
    assert single.version is None and not single.variables_enabled
    (s,) = single.statements
    assert (s.effect, s.not_action, s.not_resource, s.sid) == ("Deny", True, True, None)
    listed = parse_policy(doc(stmt(Sid="A1", Action=["iam:Get*", "iam:List*"]), stmt(), Id="x"))
    assert [st.index for st in listed.statements] == [0, 1]
    assert listed.statements[0].sid == "A1" and listed.variables_enabled


def test_empty_sids_are_not_duplicates() -> None:
    """terraform writes "Sid": "" on every statement and IAM accepts it."""
    policy = parse_policy(doc(stmt(Sid=""), stmt(Sid="")))
    assert [s.sid for s in policy.statements] == [None, None]


def test_resource_policy_sid_may_have_any_characters() -> None:
    """S3 bucket policies accept Sids such as "Allow read" (resource-based, not IAM)."""
    policy = parse_policy(doc(stmt(Sid="Allow read", Principal="*")), PolicyKind.RESOURCE)
    assert policy.statements[0].sid == "Allow read"


def test_trust_policy_principal_forms() -> None:
    """Principal element: AWS account, IAM ARNs, Service, Federated, CanonicalUser."""
    text = doc(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {
                "AWS": [
                    "123456789012",
                    "arn:aws:iam::111122223333:root",
                    "arn:aws:iam::111122223333:user/dev/alice",
                    "arn:aws:iam::111122223333:role/Admin",
                    "arn:aws:sts::111122223333:assumed-role/Admin/s1",
                ],
                "Service": "ec2.amazonaws.com",
                "Federated": "cognito-identity.amazonaws.com",
                "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
            },
        }
    )
    (s,) = parse_policy(text, PolicyKind.TRUST).statements
    assert s.resources is None and s.principal is not None
    assert s.principal.accounts == {"123456789012", "111122223333"}
    assert s.principal.service == ("ec2.amazonaws.com",)


def test_statement_positions_list_form() -> None:
    """SimulateCustomPolicy MatchedStatements StartPosition / EndPosition (1-based)."""
    text = (
        "{\n"
        '  "Version": "2012-10-17",\n'
        '  "Statement": [\n'
        '    {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "*",\n'
        '     "Condition": {"Bool": {"aws:SecureTransport": "true"}}},\n'
        "    {\n"
        '      "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"\n'
        "    }\n"
        "  ]\n"
        "}\n"
    )
    first, second = parse_policy(text).statements
    assert (first.start, first.end) == ((4, 5), (5, 60))
    assert (second.start, second.end) == ((6, 5), (8, 5))


def test_statement_positions_object_form_and_escaped_key() -> None:
    text = '{"Version": "2012-10-17", "Id": "{[\\"", "\\u0053tatement":\n  {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::}"}}'
    (s,) = parse_policy(text, PolicyKind.MANAGED).statements
    assert s.start == (2, 3)
    assert s.end == (2, len('  {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::}"}'))


def test_variables_are_literal_under_2008_version() -> None:
    """Policy variables: only Version 2012-10-17 substitutes ${...}."""
    old = parse_policy(
        '{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "*",'
        ' "Resource": "arn:aws:iam::*:user/${aws:username}"}}'
    )
    assert old.statements[0].resource_variable_keys == ()
    new = parse_policy(doc(stmt(Resource="arn:aws:iam::*:user/${aws:username}")))
    assert new.statements[0].resource_variable_keys == ("aws:username",)


def test_deep_nesting_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedPolicyError):
        parse_policy("[" * 5000 + "]" * 5000, PolicyKind.RESOURCE)
