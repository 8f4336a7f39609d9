"""The pure parts of offboarding's role steps: which trust policies name the user, what is
left of one without them, and AWS's "revoke older sessions" policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from selfiam.policy import PolicyKind, parse_policy
from selfiam.tooling.offboard_roles import (
    ADMITS_NO_ONE,
    document,
    names_principal,
    revoke_policy,
    without_principal,
)

ALICE = "arn:aws:iam::123456789012:user/alice"
ALICE_ID = "AIDAEXAMPLEALICE00001"
BOB = "arn:aws:iam::123456789012:user/bob"
THEM = {ALICE.lower(), ALICE_ID.lower()}


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(aws: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": aws}, "Action": "sts:AssumeRole", **extra}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # the only principal of the only statement: the policy then admits no one
        (trust(allow(ALICE)), trust(ADMITS_NO_ONE)),
        # one of several principals: the others stay
        (trust(allow([ALICE, BOB])), trust(allow([BOB]))),
        # a statement left with another kind of principal stays, without "AWS"
        (
            trust(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ALICE, "Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
            trust(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
        ),
        # a statement left with no principal goes; the others stay
        (trust(allow(ALICE, Sid="a"), allow(BOB, Sid="b")), trust(allow(BOB, Sid="b"))),
        # the unique id (AWS writes it in place of a deleted user's ARN); any case
        (trust(allow([ALICE_ID, BOB.upper()])), trust(allow([BOB.upper()]))),
        (trust(allow(ALICE.upper())), trust(ADMITS_NO_ONE)),
        # a single statement object, not a list
        ({"Version": "2012-10-17", "Statement": allow([ALICE, BOB])}, trust(allow([BOB]))),
    ],
)
def test_the_user_is_taken_out(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert names_principal(before, THEM)
    assert without_principal(before, THEM) == after
    assert not names_principal(after, THEM)
    assert without_principal(after, THEM) is None  # a re-run changes nothing


@pytest.mark.parametrize(
    "doc",
    [
        trust(allow(BOB)),
        trust(allow("arn:aws:iam::123456789012:root")),
        trust(allow("arn:aws:iam::123456789012:user/alice2")),
        # a Deny naming the user: taking them out would widen the policy
        trust(allow(BOB), {"Effect": "Deny", "Principal": {"AWS": ALICE}, "Action": "*"}),
        trust({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}),
        trust({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "*"}),
    ],
)
def test_policies_not_naming_the_user_are_left_alone(doc: dict[str, Any]) -> None:
    assert not names_principal(doc, THEM)
    assert without_principal(doc, THEM) is None


def test_what_is_left_is_a_valid_trust_policy() -> None:
    for doc in (trust(ADMITS_NO_ONE), without_principal(trust(allow([ALICE, BOB])), THEM)):
        parse_policy(json.dumps(doc), kind=PolicyKind.TRUST)


def test_documents_are_read_as_boto3_hands_them() -> None:
    doc = trust(allow(ALICE))
    assert document(doc) == doc
    assert document(json.dumps(doc)) == doc
    assert document(quote(json.dumps(doc))) == doc


def test_the_revoke_policy_is_awss_rounded_up_to_the_next_second() -> None:
    text = revoke_policy(datetime(2026, 12, 1, 23, 47, 0, 500_000, tzinfo=UTC))
    assert json.loads(text) == {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-12-01T23:47:01Z"}},
        },
    }
    parse_policy(text, kind=PolicyKind.INLINE_ROLE)
