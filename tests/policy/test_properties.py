"""Properties of the evaluation logic that must hold for every policy and request.

From "Policy evaluation logic": an explicit deny overrides any allow, allows only add up,
and a permissions boundary only ever limits; from "IAM policy elements: Variables": a
`${aws:username}` policy means the same for every user.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from selfiam.policy import (
    Evaluation,
    PolicyKind,
    PolicySet,
    Request,
    RequestContext,
    evaluate,
    parse_policy,
)

ACCOUNT = "123456789012"
USERS = ["alice", "bob", "carol"]
ACTIONS = ["iam:CreateAccessKey", "iam:GetUser", "iam:ListUsers", "iam:DeleteUser", "s3:GetObject"]

action_patterns = st.sampled_from(
    [
        "*",
        "iam:*",
        "iam:Get*",
        "iam:List*",
        "iam:*AccessKey*",
        "iam:GetUser",
        "s3:*",
        "s3:Get?bject",
    ]
)
resource_patterns = st.sampled_from(
    [
        "*",
        f"arn:aws:iam::{ACCOUNT}:user/*",
        "arn:aws:iam::*:user/${aws:username}",
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        "arn:aws:s3:::bucket/*",
    ]
)
conditions = st.sampled_from(
    [
        None,
        {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {"StringEquals": {"aws:username": "alice"}},
        {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        {"StringLike": {"aws:username": "${aws:username}"}},
    ]
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        "NotAction" if draw(st.booleans()) and draw(st.booleans()) else "Action": draw(
            st.lists(action_patterns, min_size=1, max_size=3)
        ),
        "NotResource" if draw(st.integers(0, 4)) == 0 else "Resource": draw(
            st.lists(resource_patterns, min_size=1, max_size=2)
        ),
    }
    condition = draw(conditions)
    if condition is not None:
        stmt["Condition"] = condition
    return stmt


def make_policy(stmts: list[dict[str, Any]], kind: PolicyKind = PolicyKind.MANAGED) -> Any:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": stmts}), kind, "p")


@st.composite
def requests(draw: st.DrawFn, user: str | None = None) -> Request:
    name = user or draw(st.sampled_from(USERS))
    target = draw(st.sampled_from([*USERS, "s3"]))
    resource = (
        "arn:aws:s3:::bucket/key" if target == "s3" else f"arn:aws:iam::{ACCOUNT}:user/{target}"
    )
    ctx: dict[str, Any] = {"aws:username": name}
    if draw(st.booleans()):
        ctx["aws:MultiFactorAuthPresent"] = draw(st.booleans())
    if draw(st.booleans()):
        ctx["aws:SourceIp"] = draw(st.sampled_from(["192.0.2.10", "198.51.100.1"]))
    return Request(
        draw(st.sampled_from(ACTIONS)),
        resource,
        RequestContext(ctx),
        principal_arn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
    )


policy_lists = st.lists(st.lists(statements(), min_size=1, max_size=4), min_size=0, max_size=3)


def decide(request: Request, bodies: list[list[dict[str, Any]]], **kw: Any) -> Evaluation:
    return evaluate(request, PolicySet([make_policy(b) for b in bodies]), **kw)


@settings(max_examples=200, deadline=None)
@given(requests(), policy_lists, statements(effect="Deny"))
def test_adding_a_deny_never_grants(
    request: Request, bodies: list[list[dict[str, Any]]], deny: dict[str, Any]
) -> None:
    before = decide(request, bodies)
    after = decide(request, [*bodies, [deny]])
    if before.decision != "allowed":
        assert after.decision != "allowed"
    if before.decision == "explicitDeny":
        assert after.decision == "explicitDeny"


@settings(max_examples=200, deadline=None)
@given(requests(), policy_lists, statements(effect="Allow"))
def test_adding_an_allow_never_takes_away(
    request: Request, bodies: list[list[dict[str, Any]]], allow: dict[str, Any]
) -> None:
    before = decide(request, bodies)
    after = decide(request, [*bodies, [allow]])
    if before.decision == "allowed":
        assert after.decision == "allowed"
    if before.decision == "explicitDeny":
        assert after.decision == "explicitDeny"


@settings(max_examples=200, deadline=None)
@given(requests(), policy_lists, st.lists(statements(), min_size=1, max_size=4))
def test_boundary_never_widens(
    request: Request, bodies: list[list[dict[str, Any]]], boundary: list[dict[str, Any]]
) -> None:
    without = decide(request, bodies)
    bounded = decide(request, bodies, boundary=[make_policy(boundary, PolicyKind.BOUNDARY)])
    if without.decision != "allowed":
        assert bounded.decision != "allowed"


@settings(max_examples=200, deadline=None)
@given(requests(), policy_lists, st.lists(statements(), min_size=1, max_size=4))
def test_session_policy_never_widens(
    request: Request, bodies: list[list[dict[str, Any]]], session: list[dict[str, Any]]
) -> None:
    without = decide(request, bodies)
    scoped = decide(request, bodies, session=[make_policy(session, PolicyKind.SESSION)])
    if without.decision != "allowed":
        assert scoped.decision != "allowed"


names = st.text(
    alphabet=st.sampled_from(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-"
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ACTIONS), names, names, st.booleans())
def test_renaming_the_user_keeps_the_decision(
    action: str, first: str, second: str, mfa: bool
) -> None:
    """A ${aws:username} policy treats every user alike (IAM policy variables)."""
    body = [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::*:user/${aws:username}"},
        {
            "Effect": "Deny",
            "NotAction": "iam:GetUser",
            "Resource": "arn:aws:iam::*:user/${aws:username}",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    ]
    pset = PolicySet([make_policy(body)])

    def run(name: str) -> Evaluation:
        arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
        ctx = RequestContext({"aws:username": name, "aws:MultiFactorAuthPresent": mfa})
        return evaluate(Request(action, arn, ctx, principal_arn=arn), pset)

    a, b = run(first), run(second)
    assert a.decision == b.decision
    assert a.matched_statements == b.matched_statements
