"""The Condition element, table-driven from AWS's documentation.

Pages: "IAM JSON policy elements: Condition operators" (CO), "Conditions with
multiple context keys or values" (MV), "Single-valued vs. multivalued context
keys" (SM), "Multivalued context key examples" (MVX), "IAM policy elements:
Variables and tags" (VAR), "AWS global condition context keys" (GK), "Example
IAM identity-based policies" (EX).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfiam.policy.conditions import ConditionBlock
from selfiam.policy.context import RequestContext
from selfiam.policy.errors import MalformedPolicyError

Case = tuple[str, dict[str, Any], dict[str, Any], bool]


def run(cases: list[Case]) -> Any:
    return pytest.mark.parametrize(
        ("doc", "block", "ctx", "expected"), cases, ids=[c[0] for c in cases]
    )


def check(block: dict[str, Any], ctx: dict[str, Any], expected: bool, enabled: bool = True) -> None:
    compiled = ConditionBlock.compile(block, enabled, "Statement 1")
    context = RequestContext(ctx)
    assert compiled.evaluate(context) is expected
    # Evaluating with missing-key tracking must give the same answer.
    assert compiled.evaluate(context, set()) is expected


STRING: list[Case] = [
    (
        "CO StringEquals PrincipalTag job-category",
        {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "iamuser-admin"},
        True,
    ),
    (
        "CO StringEquals other value",
        {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "dev"},
        False,
    ),
    (
        "CO StringEquals user without the tag: false",
        {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {},
        False,
    ),
    (
        "CO StringEquals is case-sensitive",
        {"StringEquals": {"aws:username": "Alice"}},
        {"aws:username": "alice"},
        False,
    ),
    (
        "CO StringEquals several values are ORed",
        {"StringEquals": {"aws:username": ["bob", "alice"]}},
        {"aws:username": "alice"},
        True,
    ),
    (
        "CO condition key names are case-insensitive",
        {"StringEquals": {"AWS:UserName": "alice"}},
        {"aws:username": "alice"},
        True,
    ),
    (
        "CO StringNotEquals different value",
        {"StringNotEquals": {"aws:username": "bob"}},
        {"aws:username": "alice"},
        True,
    ),
    (
        "CO StringNotEquals same value",
        {"StringNotEquals": {"aws:username": "alice"}},
        {"aws:username": "alice"},
        False,
    ),
    (
        "MV negated values are NORed: matches one",
        {"StringNotEquals": {"aws:PrincipalTag/role": ["audit", "security"]}},
        {"aws:PrincipalTag/role": "audit"},
        False,
    ),
    (
        "MV negated values are NORed: matches none",
        {"StringNotEquals": {"aws:PrincipalTag/role": ["audit", "security"]}},
        {"aws:PrincipalTag/role": "dev"},
        True,
    ),
    (
        "CO Important: negated operator with the key missing is true",
        {"StringNotEquals": {"aws:PrincipalTag/role": "audit"}},
        {},
        True,
    ),
    (
        "CO StringEqualsIgnoreCase",
        {"StringEqualsIgnoreCase": {"aws:username": "ALICE"}},
        {"aws:username": "alice"},
        True,
    ),
    (
        "CO StringEqualsIgnoreCase other",
        {"StringEqualsIgnoreCase": {"aws:username": "ALICE"}},
        {"aws:username": "bob"},
        False,
    ),
    (
        "CO StringNotEqualsIgnoreCase same but case",
        {"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}},
        {"aws:username": "alice"},
        False,
    ),
    (
        "CO StringNotEqualsIgnoreCase other",
        {"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}},
        {"aws:username": "bob"},
        True,
    ),
    (
        "CO StringLike s3:prefix home/",
        {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
        {"s3:prefix": "home/", "aws:username": "alice"},
        True,
    ),
    (
        "CO StringLike s3:prefix own home",
        {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
        {"s3:prefix": "home/alice/", "aws:username": "alice"},
        True,
    ),
    (
        "CO StringLike s3:prefix someone else's home",
        {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
        {"s3:prefix": "home/bob/", "aws:username": "alice"},
        False,
    ),
    (
        "CO StringLike empty string value",
        {"StringLike": {"s3:prefix": ["", "home/"]}},
        {"s3:prefix": ""},
        True,
    ),
    (
        "CO StringLike wildcard",
        {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        {"ec2:InstanceType": "t2.micro"},
        True,
    ),
    (
        "CO StringLike wildcard no match",
        {"StringLike": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        {"ec2:InstanceType": "c5.large"},
        False,
    ),
    (
        "CO StringLike is case-sensitive",
        {"StringLike": {"ec2:InstanceType": "T2.*"}},
        {"ec2:InstanceType": "t2.micro"},
        False,
    ),
    ("CO StringLike ? wildcard", {"StringLike": {"x:code": "a?c"}}, {"x:code": "abc"}, True),
    (
        "CO StringLike spans colons (vs ArnLike)",
        {"StringLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
        {
            "aws:SourceArn": "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
        },
        True,
    ),
    (
        "CO StringNotLike matches pattern",
        {"StringNotLike": {"s3:prefix": "home/*"}},
        {"s3:prefix": "home/x"},
        False,
    ),
    (
        "CO StringNotLike no match",
        {"StringNotLike": {"s3:prefix": "home/*"}},
        {"s3:prefix": "tmp/x"},
        True,
    ),
    ("CO StringNotLike key missing is true", {"StringNotLike": {"s3:prefix": "home/*"}}, {}, True),
    (
        "CO numbers in string operators compare as text",
        {"StringEquals": {"s3:max-keys": 10}},
        {"s3:max-keys": "10"},
        True,
    ),
    (
        "CO booleans in string operators compare as text",
        {"StringEquals": {"x:flag": True}},
        {"x:flag": True},
        True,
    ),
    (
        "VAR StringLike sns:endpoint with ${aws:username}",
        {"StringLike": {"sns:endpoint": "https://example.com/${aws:username}/"}},
        {"sns:endpoint": "https://example.com/alice/", "aws:username": "alice"},
        True,
    ),
    (
        "VAR StringEquals with a variable value",
        {"StringEquals": {"aws:PrincipalTag/team": "${aws:ResourceTag/team}"}},
        {"aws:PrincipalTag/team": "ops", "aws:ResourceTag/team": "ops"},
        True,
    ),
    (
        "VAR StringEquals with a variable value, different",
        {"StringEquals": {"aws:PrincipalTag/team": "${aws:ResourceTag/team}"}},
        {"aws:PrincipalTag/team": "ops", "aws:ResourceTag/team": "dev"},
        False,
    ),
    (
        "VAR variable with no value: StringEquals does not match",
        {"StringEquals": {"aws:PrincipalTag/team": "${aws:ResourceTag/team}"}},
        {"aws:PrincipalTag/team": "ops"},
        False,
    ),
    (
        "VAR variable with no value: StringNotEquals matches",
        {"StringNotEquals": {"aws:PrincipalTag/team": "${aws:ResourceTag/team}"}},
        {"aws:PrincipalTag/team": "ops"},
        True,
    ),
    (
        "VAR default value",
        {"StringEquals": {"aws:PrincipalTag/team": "${aws:ResourceTag/team, 'ops'}"}},
        {"aws:PrincipalTag/team": "ops"},
        True,
    ),
    (
        "VAR ${*} is literal in StringLike",
        {"StringLike": {"x:name": "a${*}"}},
        {"x:name": "a*"},
        True,
    ),
    (
        "VAR ${*} is literal in StringLike",
        {"StringLike": {"x:name": "a${*}"}},
        {"x:name": "ab"},
        False,
    ),
    (
        "VAR ${?} is literal in StringLike",
        {"StringLike": {"x:name": "a${?}*"}},
        {"x:name": "a?bc"},
        True,
    ),
    (
        "VAR ${$} in StringEquals",
        {"StringEquals": {"x:name": "${$}{aws:username}"}},
        {"x:name": "${aws:username}"},
        True,
    ),
    (
        "VAR a variable's value is literal in StringLike",
        {"StringLike": {"x:name": "${aws:username}"}},
        {"x:name": "alice", "aws:username": "a*"},
        False,
    ),
    (
        "SM single-valued key with several request values: any matches",
        {"StringEquals": {"x:k": "b"}},
        {"x:k": ["a", "b"]},
        True,
    ),
    (
        "SM several request values, negated: none may match",
        {"StringNotEquals": {"x:k": "b"}},
        {"x:k": ["a", "b"]},
        False,
    ),
]


@run(STRING)
def test_string_operators(
    doc: str, block: dict[str, Any], ctx: dict[str, Any], expected: bool
) -> None:
    check(block, ctx, expected)


def test_variables_are_literal_before_2012_10_17() -> None:
    # VAR: with an older Version, ${aws:username} is a literal string.
    block = {"StringEquals": {"x:name": "${aws:username}"}}
    check(block, {"x:name": "${aws:username}", "aws:username": "alice"}, True, enabled=False)
    check(block, {"x:name": "alice", "aws:username": "alice"}, False, enabled=False)
    check(block, {"x:name": "alice", "aws:username": "alice"}, True, enabled=True)


NUMERIC: list[Case] = [
    (
        "CO NumericLessThanEquals s3:max-keys 10",
        {"NumericLessThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": "10"},
        True,
    ),
    (
        "CO NumericLessThanEquals over",
        {"NumericLessThanEquals": {"s3:max-keys": "10"}},
        {"s3:max-keys": "11"},
        False,
    ),
    (
        "CO Numeric key not present: false",
        {"NumericLessThanEquals": {"s3:max-keys": "10"}},
        {},
        False,
    ),
    ("CO NumericEquals", {"NumericEquals": {"x:n": 5}}, {"x:n": 5}, True),
    ("CO NumericEquals decimal vs integer", {"NumericEquals": {"x:n": "5.0"}}, {"x:n": "5"}, True),
    ("CO NumericEquals other", {"NumericEquals": {"x:n": "5"}}, {"x:n": "6"}, False),
    ("CO NumericNotEquals", {"NumericNotEquals": {"x:n": ["5", "6"]}}, {"x:n": "7"}, True),
    ("CO NumericNotEquals NOR", {"NumericNotEquals": {"x:n": ["5", "6"]}}, {"x:n": "6"}, False),
    ("CO NumericNotEquals missing key: true", {"NumericNotEquals": {"x:n": "5"}}, {}, True),
    ("CO NumericLessThan", {"NumericLessThan": {"x:n": "5"}}, {"x:n": "4.99"}, True),
    ("CO NumericLessThan equal", {"NumericLessThan": {"x:n": "5"}}, {"x:n": "5"}, False),
    ("CO NumericGreaterThan", {"NumericGreaterThan": {"x:n": "-1"}}, {"x:n": "0"}, True),
    ("CO NumericGreaterThan equal", {"NumericGreaterThan": {"x:n": "0"}}, {"x:n": "0"}, False),
    (
        "CO NumericGreaterThanEquals",
        {"NumericGreaterThanEquals": {"x:n": "0.5"}},
        {"x:n": "0.5"},
        True,
    ),
    (
        "CO NumericGreaterThanEquals under",
        {"NumericGreaterThanEquals": {"x:n": "0.5"}},
        {"x:n": "0.4"},
        False,
    ),
    (
        "CO NumericLessThanEquals several values ORed",
        {"NumericLessThanEquals": {"x:n": ["1", "100"]}},
        {"x:n": "50"},
        True,
    ),
    (
        "CO request value not a number: no match",
        {"NumericLessThan": {"x:n": "5"}},
        {"x:n": "abc"},
        False,
    ),
    (
        "EX MFA age under an hour",
        {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
        {"aws:MultiFactorAuthAge": 300},
        True,
    ),
    (
        "EX MFA age too old",
        {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
        {"aws:MultiFactorAuthAge": 7200},
        False,
    ),
    (
        "EX MFA age absent (no MFA): false",
        {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
        {},
        False,
    ),
]


@run(NUMERIC)
def test_numeric_operators(
    doc: str, block: dict[str, Any], ctx: dict[str, Any], expected: bool
) -> None:
    check(block, ctx, expected)


DATE: list[Case] = [
    (
        "CO DateGreaterThan TokenIssueTime 2020",
        {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        {"aws:TokenIssueTime": "2020-06-01T00:00:00Z"},
        True,
    ),
    (
        "CO DateGreaterThan issued before",
        {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        {"aws:TokenIssueTime": "2019-12-31T23:59:59Z"},
        False,
    ),
    (
        "CO DateGreaterThan key absent (access keys): false",
        {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        {},
        False,
    ),
    (
        "EX expired: DateLessThan aws:CurrentTime",
        {"DateLessThan": {"aws:CurrentTime": "2024-12-31T23:59:59Z"}},
        {"aws:CurrentTime": "2025-01-01T00:00:00Z"},
        False,
    ),
    (
        "EX not yet expired",
        {"DateLessThan": {"aws:CurrentTime": "2024-12-31T23:59:59Z"}},
        {"aws:CurrentTime": "2024-06-01T00:00:00Z"},
        True,
    ),
    (
        "EX time window",
        {
            "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"},
        },
        {"aws:CurrentTime": "2020-05-15T12:00:00Z"},
        True,
    ),
    (
        "EX time window, after",
        {
            "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"},
        },
        {"aws:CurrentTime": "2020-07-01T00:00:00Z"},
        False,
    ),
    (
        "CO epoch time in the policy",
        {"DateLessThan": {"aws:EpochTime": "1700000000"}},
        {"aws:EpochTime": "1600000000"},
        True,
    ),
    (
        "CO epoch in the request, ISO in the policy",
        {"DateLessThan": {"aws:CurrentTime": "2020-09-13T12:26:41Z"}},
        {"aws:CurrentTime": "1600000000"},
        True,
    ),
    (
        "CO ISO in the request, epoch in the policy",
        {"DateEquals": {"aws:CurrentTime": 1600000000}},
        {"aws:CurrentTime": "2020-09-13T12:26:40Z"},
        True,
    ),
    (
        "CO date only",
        {"DateGreaterThanEquals": {"aws:CurrentTime": "2024-01-01"}},
        {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
        True,
    ),
    (
        "CO year-month",
        {"DateLessThan": {"aws:CurrentTime": "2024-02"}},
        {"aws:CurrentTime": "2024-01-31T23:59:59Z"},
        True,
    ),
    (
        "CO time zone offset",
        {"DateEquals": {"aws:CurrentTime": "2024-01-01T02:00:00+02:00"}},
        {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
        True,
    ),
    (
        "CO fractional seconds",
        {"DateLessThan": {"aws:CurrentTime": "2024-01-01T00:00:00.5Z"}},
        {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
        True,
    ),
    (
        "CO DateNotEquals",
        {"DateNotEquals": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "2024-01-02T00:00:00Z"},
        True,
    ),
    (
        "CO DateNotEquals same instant",
        {"DateNotEquals": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
        False,
    ),
    (
        "CO DateLessThanEquals equal",
        {"DateLessThanEquals": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
        True,
    ),
    (
        "CO DateGreaterThan equal",
        {"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "2024-01-01T00:00:00Z"},
        False,
    ),
    (
        "CO unparsable request date: no match",
        {"DateLessThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "yesterday"},
        False,
    ),
]


@run(DATE)
def test_date_operators(
    doc: str, block: dict[str, Any], ctx: dict[str, Any], expected: bool
) -> None:
    check(block, ctx, expected)


BOOL_BINARY: list[Case] = [
    (
        "CO Bool aws:SecureTransport false (deny plain HTTP)",
        {"Bool": {"aws:SecureTransport": "false"}},
        {"aws:SecureTransport": False},
        True,
    ),
    (
        "CO Bool aws:SecureTransport over TLS",
        {"Bool": {"aws:SecureTransport": "false"}},
        {"aws:SecureTransport": True},
        False,
    ),
    (
        "CO Bool JSON boolean value",
        {"Bool": {"aws:SecureTransport": True}},
        {"aws:SecureTransport": "true"},
        True,
    ),
    (
        "CO Bool case-insensitive",
        {"Bool": {"aws:SecureTransport": "TRUE"}},
        {"aws:SecureTransport": "True"},
        True,
    ),
    (
        "EX MFA required: Bool MultiFactorAuthPresent true",
        {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        {"aws:MultiFactorAuthPresent": True},
        True,
    ),
    (
        "EX MFA required, signed in without MFA",
        {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        {"aws:MultiFactorAuthPresent": False},
        False,
    ),
    (
        "EX MFA required, access keys (key absent)",
        {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        {},
        False,
    ),
    (
        "EX deny without MFA: BoolIfExists false, no MFA",
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": False},
        True,
    ),
    (
        "EX deny without MFA: BoolIfExists false, key absent (access keys)",
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {},
        True,
    ),
    (
        "EX deny without MFA: BoolIfExists false, with MFA",
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {"aws:MultiFactorAuthPresent": True},
        False,
    ),
    (
        "VAR Bool with a policy variable",
        {"Bool": {"x:flag": "${x:other}"}},
        {"x:flag": True, "x:other": "true"},
        True,
    ),
    (
        "VAR Bool with a policy variable, different",
        {"Bool": {"x:flag": "${x:other}"}},
        {"x:flag": True, "x:other": "false"},
        False,
    ),
    (
        "CO BinaryEquals",
        {"BinaryEquals": {"x:bin": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"x:bin": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
        True,
    ),
    (
        "CO BinaryEquals raw request bytes",
        {"BinaryEquals": {"x:bin": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"x:bin": "BinaryValueInBase64"},
        True,
    ),
    (
        "CO BinaryEquals other",
        {"BinaryEquals": {"x:bin": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"x:bin": "b3RoZXI="},
        False,
    ),
    (
        "CO BinaryEquals missing",
        {"BinaryEquals": {"x:bin": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {},
        False,
    ),
]


@run(BOOL_BINARY)
def test_bool_and_binary_operators(
    doc: str, block: dict[str, Any], ctx: dict[str, Any], expected: bool
) -> None:
    check(block, ctx, expected)


IP: list[Case] = [
    (
        "CO IpAddress 203.0.113.0/24",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "203.0.113.42"},
        True,
    ),
    (
        "EX denial: outside the IP range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "198.51.100.7"},
        False,
    ),
    (
        "CO IpAddress without prefix is /32",
        {"IpAddress": {"aws:SourceIp": "203.0.113.5"}},
        {"aws:SourceIp": "203.0.113.5"},
        True,
    ),
    (
        "CO IpAddress without prefix is /32, neighbour",
        {"IpAddress": {"aws:SourceIp": "203.0.113.5"}},
        {"aws:SourceIp": "203.0.113.6"},
        False,
    ),
    (
        "CO IPv4 and IPv6 mixed, v6 request",
        {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
        {"aws:SourceIp": "2001:db8:1234:5678::1"},
        True,
    ),
    (
        "CO IPv4 and IPv6 mixed, v4 request",
        {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
        {"aws:SourceIp": "203.0.113.1"},
        True,
    ),
    (
        "CO IPv6 outside",
        {"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}},
        {"aws:SourceIp": "2001:db8:1234:5679::1"},
        False,
    ),
    (
        "CO IPv6 single address",
        {"IpAddress": {"aws:SourceIp": "2001:db8::1"}},
        {"aws:SourceIp": "2001:DB8:0:0:0:0:0:1"},
        True,
    ),
    (
        "CO IPv4-mapped IPv6 request",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "::ffff:203.0.113.9"},
        True,
    ),
    (
        "CO host bits set in the CIDR",
        {"IpAddress": {"aws:SourceIp": "203.0.113.77/24"}},
        {"aws:SourceIp": "203.0.113.1"},
        True,
    ),
    (
        "CO aws:SourceIp absent (VPC endpoint): false",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {},
        False,
    ),
    (
        "CO unparsable request address: no match",
        {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
        {"aws:SourceIp": "localhost"},
        False,
    ),
    (
        "EX deny outside range: NotIpAddress, outside",
        {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
        {"aws:SourceIp": "198.51.100.7"},
        True,
    ),
    (
        "EX deny outside range: NotIpAddress, inside",
        {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
        {"aws:SourceIp": "203.0.113.7"},
        False,
    ),
    (
        "CO NotIpAddress key missing: true",
        {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {},
        True,
    ),
]


@run(IP)
def test_ip_operators(doc: str, block: dict[str, Any], ctx: dict[str, Any], expected: bool) -> None:
    check(block, ctx, expected)


SQS_SNS = "arn:aws:sns:us-east-2:123456789012:TOPIC-ID"
ARN: list[Case] = [
    (
        "CO ArnEquals aws:SourceArn SNS topic",
        {"ArnEquals": {"aws:SourceArn": SQS_SNS}},
        {"aws:SourceArn": SQS_SNS},
        True,
    ),
    (
        "CO ArnEquals other topic",
        {"ArnEquals": {"aws:SourceArn": SQS_SNS}},
        {"aws:SourceArn": SQS_SNS + "2"},
        False,
    ),
    (
        "CO ArnEquals key absent (direct call): false",
        {"ArnEquals": {"aws:SourceArn": SQS_SNS}},
        {},
        False,
    ),
    (
        "CO ArnEquals behaves like ArnLike",
        {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}},
        {"aws:SourceArn": SQS_SNS},
        True,
    ),
    (
        "CO ArnLike fields matched separately",
        {"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
        {
            "aws:SourceArn": "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
        },
        False,
    ),
    (
        "CO ArnLike same account",
        {"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
        {"aws:SourceArn": "arn:aws:someservice:us-east-2:111122223333:finance/document.txt"},
        True,
    ),
    (
        "CO ArnLike is case-sensitive",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:role/admin"},
        False,
    ),
    (
        "CO ArnLike ? wildcard",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin?"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:role/Admin2"},
        True,
    ),
    (
        "CO ArnLike * matches any ARN",
        {"ArnLike": {"aws:PrincipalArn": "*"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:root"},
        True,
    ),
    (
        "CO ArnLike non-ARN request value",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:*"}},
        {"aws:PrincipalArn": "nope"},
        False,
    ),
    (
        "CO ArnNotEquals other",
        {"ArnNotEquals": {"aws:SourceArn": SQS_SNS}},
        {"aws:SourceArn": SQS_SNS + "2"},
        True,
    ),
    (
        "CO ArnNotLike matches",
        {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin*"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:role/AdminX"},
        False,
    ),
    (
        "CO Important: ArnNotLike key missing is true",
        {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin*"}},
        {},
        True,
    ),
    (
        "VAR ArnLike with a variable",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/${aws:username}"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:user/alice", "aws:username": "alice"},
        True,
    ),
    (
        "VAR ArnLike with a variable, other user",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/${aws:username}"}},
        {"aws:PrincipalArn": "arn:aws:iam::1:user/bob", "aws:username": "alice"},
        False,
    ),
]


@run(ARN)
def test_arn_operators(
    doc: str, block: dict[str, Any], ctx: dict[str, Any], expected: bool
) -> None:
    check(block, ctx, expected)


NULL_IFEXISTS: list[Case] = [
    ("CO Null true: no temporary credentials", {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    (
        "CO Null true with temporary credentials",
        {"Null": {"aws:TokenIssueTime": "true"}},
        {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"},
        False,
    ),
    (
        "CO Null false: key present",
        {"Null": {"aws:TokenIssueTime": "false"}},
        {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"},
        True,
    ),
    ("CO Null false: key absent", {"Null": {"aws:TokenIssueTime": False}}, {}, False),
    ("CO Null JSON boolean", {"Null": {"aws:TokenIssueTime": True}}, {}, True),
    (
        "MVX Null false guards ForAllValues: empty key",
        {"Null": {"aws:TagKeys": "false"}},
        {"aws:TagKeys": []},
        False,
    ),
    (
        "CO StringLikeIfExists ec2:InstanceType absent",
        {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        {},
        True,
    ),
    (
        "CO StringLikeIfExists present and matching",
        {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        {"ec2:InstanceType": "m3.large"},
        True,
    ),
    (
        "CO StringLikeIfExists present, not matching",
        {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
        {"ec2:InstanceType": "c5.large"},
        False,
    ),
    (
        "CO StringNotEqualsIfExists key missing: true (deny still applies)",
        {"StringNotEqualsIfExists": {"aws:PrincipalTag/team": "ops"}},
        {},
        True,
    ),
    (
        "CO StringNotEqualsIfExists present, equal",
        {"StringNotEqualsIfExists": {"aws:PrincipalTag/team": "ops"}},
        {"aws:PrincipalTag/team": "ops"},
        False,
    ),
    (
        "CO NumericLessThanIfExists absent",
        {"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": "3600"}},
        {},
        True,
    ),
    (
        "CO DateLessThanIfExists absent",
        {"DateLessThanIfExists": {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}},
        {},
        True,
    ),
    (
        "CO IpAddressIfExists absent",
        {"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}},
        {},
        True,
    ),
    (
        "CO IpAddressIfExists present outside",
        {"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "198.51.100.1"},
        False,
    ),
    (
        "CO ArnLikeIfExists absent",
        {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:sns:*:*:*"}},
        {},
        True,
    ),
    ("CO BinaryEqualsIfExists absent", {"BinaryEqualsIfExists": {"x:bin": "AAAA"}}, {}, True),
    (
        "CO operators are ANDed",
        {"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}},
        {"aws:username": "alice", "aws:SecureTransport": False},
        False,
    ),
    (
        "CO keys within an operator are ANDed",
        {"StringEquals": {"aws:username": "alice", "aws:PrincipalTag/team": "ops"}},
        {"aws:username": "alice", "aws:PrincipalTag/team": "dev"},
        False,
    ),
    (
        "MV all keys true",
        {"StringEquals": {"aws:username": "alice", "aws:PrincipalTag/team": "ops"}},
        {"aws:username": "alice", "aws:PrincipalTag/team": "ops"},
        True,
    ),
    ("empty Condition holds", {}, {}, True),
]


@run(NULL_IFEXISTS)
def test_null_ifexists_and_logic(
    doc: str, block: dict[str, Any], ctx: dict[str, Any], expected: bool
) -> None:
    check(block, ctx, expected)


TAGS = "aws:TagKeys"
SETS: list[Case] = [
    # MV set operators: request [PostDateTime, UserName] vs policy [PostDateTime, Message, Tags].
    (
        "MV ForAllValues: UserName not allowed",
        {
            "ForAllValues:StringLike": {
                "dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]
            }
        },
        {"dynamodb:requestedAttributes": ["PostDateTime", "UserName"]},
        False,
    ),
    (
        "MV ForAllValues: all allowed",
        {
            "ForAllValues:StringLike": {
                "dynamodb:requestedAttributes": ["PostDateTime", "Message", "Tags"]
            }
        },
        {"dynamodb:requestedAttributes": ["PostDateTime", "Message"]},
        True,
    ),
    (
        "MV ForAnyValue: PostDateTime forbidden",
        {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}},
        {"dynamodb:requestedAttributes": ["UserName", "Message", "PostDateTime"]},
        True,
    ),
    (
        "MV ForAnyValue: only UserName",
        {"ForAnyValue:StringLike": {"dynamodb:requestedAttributes": ["ID", "PostDateTime"]}},
        {"dynamodb:requestedAttributes": ["UserName"]},
        False,
    ),
    (
        "MVX ForAllValues returns true if there are no context keys",
        {"ForAllValues:StringLike": {TAGS: ["key1*"]}},
        {},
        True,
    ),
    (
        "MV ForAllValues with an empty data set: true",
        {"ForAllValues:StringLike": {TAGS: ["key1*"]}},
        {TAGS: []},
        True,
    ),
    (
        "MV ForAnyValue with an empty data set: false",
        {"ForAnyValue:StringLike": {TAGS: ["key1*"]}},
        {TAGS: []},
        False,
    ),
    ("MV ForAnyValue key missing: false", {"ForAnyValue:StringEquals": {TAGS: "a"}}, {}, False),
    (
        "MVX ForAllValues:StringLike with wildcards",
        {"ForAllValues:StringLike": {TAGS: ["key1*", "key2*"]}},
        {TAGS: ["key1-a", "key2-b"]},
        True,
    ),
    (
        "MVX ForAllValues:StringLike one outside",
        {"ForAllValues:StringLike": {TAGS: ["key1*", "key2*"]}},
        {TAGS: ["key1-a", "other"]},
        False,
    ),
    # Negated operators with set qualifiers: the negation applies to each request value.
    (
        "MV ForAllValues:StringNotEquals: no request value is forbidden",
        {"ForAllValues:StringNotEquals": {TAGS: ["secret", "admin"]}},
        {TAGS: ["a", "b"]},
        True,
    ),
    (
        "MV ForAllValues:StringNotEquals: one forbidden",
        {"ForAllValues:StringNotEquals": {TAGS: ["secret", "admin"]}},
        {TAGS: ["a", "admin"]},
        False,
    ),
    (
        "MV ForAllValues:StringNotEquals: key missing is true",
        {"ForAllValues:StringNotEquals": {TAGS: "secret"}},
        {},
        True,
    ),
    (
        "MV ForAnyValue:StringNotEquals: some value not in the list",
        {"ForAnyValue:StringNotEquals": {TAGS: ["a", "b"]}},
        {TAGS: ["a", "c"]},
        True,
    ),
    (
        "MV ForAnyValue:StringNotEquals: every value in the list",
        {"ForAnyValue:StringNotEquals": {TAGS: ["a", "b"]}},
        {TAGS: ["a", "b"]},
        False,
    ),
    (
        "MV ForAnyValue:StringNotEquals: key missing is false",
        {"ForAnyValue:StringNotEquals": {TAGS: "a"}},
        {},
        False,
    ),
    (
        "MV ForAnyValue:StringNotLike",
        {"ForAnyValue:StringNotLike": {TAGS: "key*"}},
        {TAGS: ["key1", "other"]},
        True,
    ),
    (
        "MV ForAllValues:StringNotLike",
        {"ForAllValues:StringNotLike": {TAGS: "key*"}},
        {TAGS: ["key1", "other"]},
        False,
    ),
    (
        "MV ForAnyValue with IfExists, key missing: true",
        {"ForAnyValue:StringEqualsIfExists": {TAGS: "a"}},
        {},
        True,
    ),
    (
        "MV qualifier is case-insensitive",
        {"forallvalues:StringEquals": {TAGS: ["a", "b"]}},
        {TAGS: ["a"]},
        True,
    ),
    (
        "MV ForAnyValue:ArnLike",
        {"ForAnyValue:ArnLike": {"x:arns": "arn:aws:iam::*:role/A*"}},
        {"x:arns": ["arn:aws:iam::1:user/x", "arn:aws:iam::1:role/Admin"]},
        True,
    ),
    (
        "MV ForAllValues:NumericLessThan",
        {"ForAllValues:NumericLessThan": {"x:nums": "10"}},
        {"x:nums": ["1", "9"]},
        True,
    ),
    (
        "MV ForAllValues:NumericLessThan one over",
        {"ForAllValues:NumericLessThan": {"x:nums": "10"}},
        {"x:nums": ["1", "19"]},
        False,
    ),
    (
        "MV ForAllValues:StringEqualsIgnoreCase",
        {"ForAllValues:StringEqualsIgnoreCase": {TAGS: ["Env", "Team"]}},
        {TAGS: ["env", "TEAM"]},
        True,
    ),
    (
        "MV ForAnyValue:IpAddress",
        {"ForAnyValue:IpAddress": {"x:ips": "10.0.0.0/8"}},
        {"x:ips": ["192.0.2.1", "10.1.2.3"]},
        True,
    ),
]


@run(SETS)
def test_set_qualifiers(
    doc: str, block: dict[str, Any], ctx: dict[str, Any], expected: bool
) -> None:
    check(block, ctx, expected)


# -- compile-time validation --------------------------------------------------

MALFORMED: list[tuple[str, object, str]] = [
    ("not an object", ["StringEquals"], "must be an object"),
    (
        "unknown operator",
        {"StringEqualz": {"aws:username": "a"}},
        "Unknown condition operator 'StringEqualz'",
    ),
    (
        "unknown qualifier",
        {"ForSomeValues:StringEquals": {"aws:username": "a"}},
        "Unknown condition operator",
    ),
    ("IfExists alone", {"IfExists": {"aws:username": "a"}}, "Unknown condition operator"),
    (
        "Null with IfExists",
        {"NullIfExists": {"aws:username": "true"}},
        "IfExists cannot be used with Null",
    ),
    ("operator body not an object", {"StringEquals": "aws:username"}, "must map condition keys"),
    ("empty key", {"StringEquals": {"": "a"}}, "non-empty"),
    ("null value", {"StringEquals": {"aws:username": None}}, "must be a string, number or boolean"),
    (
        "nested object value",
        {"StringEquals": {"aws:username": {"a": 1}}},
        "must be a string, number or boolean",
    ),
    (
        "nested list value",
        {"StringEquals": {"aws:username": [["a"]]}},
        "must be a string, number or boolean",
    ),
    ("non-numeric NumericEquals", {"NumericEquals": {"s3:max-keys": "ten"}}, "is not a number"),
    ("NaN NumericEquals", {"NumericEquals": {"s3:max-keys": "NaN"}}, "is not a number"),
    ("boolean NumericEquals", {"NumericEquals": {"s3:max-keys": True}}, "is not a number"),
    ("unparsable date", {"DateLessThan": {"aws:CurrentTime": "next tuesday"}}, "is not a date"),
    ("impossible date", {"DateLessThan": {"aws:CurrentTime": "2024-13-45"}}, "is not a date"),
    ("bad CIDR", {"IpAddress": {"aws:SourceIp": "203.0.113.0/33"}}, "is not an IP address"),
    ("bad address", {"NotIpAddress": {"aws:SourceIp": "300.1.1.1"}}, "is not an IP address"),
    ("bad base64", {"BinaryEquals": {"x:bin": "not base64!"}}, "is not base64"),
    ("bad Bool", {"Bool": {"aws:SecureTransport": "yes"}}, "is not true or false"),
    ("bad Null", {"Null": {"aws:TokenIssueTime": "maybe"}}, "is not true or false"),
    (
        "unterminated variable",
        {"StringLike": {"s3:prefix": "home/${aws:username"}},
        "not terminated",
    ),
    # CO: "You can not use a policy variable with the Numeric/Date/IpAddress condition operator"
    (
        "variable in Numeric",
        {"NumericLessThan": {"aws:EpochTime": "${aws:TokenIssueTime}"}},
        "is not a number",
    ),
    (
        "variable in Date",
        {"DateLessThan": {"aws:CurrentTime": "${aws:TokenIssueTime}"}},
        "is not a date",
    ),
    ("variable in IpAddress", {"IpAddress": {"aws:SourceIp": "${x:cidr}"}}, "is not an IP address"),
]


@pytest.mark.parametrize(("doc", "block", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_conditions(doc: str, block: object, message: str) -> None:
    with pytest.raises(MalformedPolicyError, match=message) as err:
        ConditionBlock.compile(block, True, "Statement 2 (Sid 'AllowKeys'), Condition")
    assert str(err.value).startswith("Statement 2 (Sid 'AllowKeys'), Condition: ")


def test_accepted_shapes() -> None:
    # Values may be a single value or a list; strings, numbers or booleans.
    block = ConditionBlock.compile(
        {
            "StringEquals": {"aws:username": ["alice", "bob"], "x:n": 3},
            "NumericLessThan": {"s3:max-keys": 10.5},
            "DateGreaterThan": {"aws:EpochTime": 1600000000},
            "Bool": {"aws:SecureTransport": True},
            "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": []},
        },
        True,
        "",
    )
    assert len(block) == 6


# -- keys and missing ---------------------------------------------------------


def test_keys_include_variables_and_are_deduplicated() -> None:
    block = ConditionBlock.compile(
        {
            "StringLike": {"s3:prefix": "home/${aws:username}/*"},
            "StringEquals": {
                "AWS:UserName": "x",
                "aws:PrincipalTag/team": "${aws:ResourceTag/team}",
            },
            "Null": {"aws:TokenIssueTime": "true"},
        },
        True,
        "",
    )
    assert block.keys == (
        "s3:prefix",
        "aws:username",
        "aws:PrincipalTag/team",
        "aws:ResourceTag/team",
        "aws:TokenIssueTime",
    )


def test_missing_collects_every_absent_key() -> None:
    block = ConditionBlock.compile(
        {
            "StringEquals": {
                "aws:username": "alice",
                "aws:PrincipalTag/team": "${aws:ResourceTag/team}",
            },
            "BoolIfExists": {"aws:MultiFactorAuthPresent": "true"},
            "Null": {"aws:TokenIssueTime": "true"},
        },
        True,
        "",
    )
    missing: set[str] = set()
    ctx = RequestContext({"aws:PrincipalTag/team": "ops"})
    assert block.evaluate(ctx, missing) is False
    assert missing == {
        "aws:username",
        "aws:ResourceTag/team",
        "aws:MultiFactorAuthPresent",
        "aws:TokenIssueTime",
    }
    failing = block.failing(ctx)
    assert [(e.operator, e.key) for e in failing] == [
        ("StringEquals", "aws:username"),
        ("StringEquals", "aws:PrincipalTag/team"),
    ]


def test_literal_values_are_precompiled() -> None:
    block = ConditionBlock.compile({"StringEquals": {"aws:username": "alice"}}, True, "")
    assert block.entries[0].is_static
    block = ConditionBlock.compile({"StringEquals": {"aws:username": "${aws:userid}"}}, True, "")
    assert not block.entries[0].is_static


# -- fuzz ---------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        ["203.0.113.0/24", "2024-01-01T00:00:00Z", "1600000000", "QUJD", "${aws:username}", "true"]
    ),
)
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
_operators = st.sampled_from(
    [
        "StringEquals",
        "StringNotLike",
        "NumericLessThan",
        "DateGreaterThan",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnLike",
        "Null",
        "ForAllValues:StringLike",
        "ForAnyValue:NumericEqualsIfExists",
        "NullIfExists",
        "Nope",
    ]
)
_keys = st.sampled_from(["aws:username", "aws:SourceIp", "aws:CurrentTime", "x:bin", "bad", ""])
_blocks = st.one_of(
    _json,
    st.dictionaries(
        _operators, st.one_of(_json, st.dictionaries(_keys, _json, max_size=3)), max_size=3
    ),
)


@given(_blocks, st.booleans())
def test_fuzz_compile_never_crashes(block: object, enabled: bool) -> None:
    try:
        compiled = ConditionBlock.compile(block, enabled, "Statement 1")
    except MalformedPolicyError:
        return
    ctx = RequestContext(
        {
            "aws:username": "alice",
            "aws:SourceIp": "203.0.113.9",
            "aws:CurrentTime": "2024-01-01T00:00:00Z",
        }
    )
    assert isinstance(compiled.evaluate(ctx), bool)
    assert isinstance(compiled.evaluate(RequestContext(), set()), bool)
