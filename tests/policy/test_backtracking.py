"""Regression for issue 10 (part 1): a wildcard pattern made the engine backtrack.

The finding: any member (the shipped SelfService policy allows SimulateCustomPolicy without
MFA) sent SimulateCustomPolicy with ``Resource: arn:aws:iam::*:user/*a*a*a*a*a*b`` and a
ResourceArn of 200 ``a``s; the regex the pattern was compiled to backtracked for longer
than 30 s while every other request waited. The same shape reached the engine through
Action, NotAction, NotResource, StringLike / StringNotLike and ArnLike / ArnNotLike.

On the code before the fix these decisions do not return within the test run: that is
how the tests fail there. Each one is decided both ways -- the 200-``a`` value that does
not match, and one ending in ``b`` that does -- so an answer cannot come from giving up.
How much work a match may take is counted, not timed, in test_globs.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from selfiam.policy import PolicyKind, PolicySet, Request, RequestContext, evaluate, parse_policy
from selfiam.service.simulate import simulate_custom_policy

WORST = "*a*a*a*a*a*b"
PATTERN = "arn:aws:iam::*:user/" + WORST
USER = "arn:aws:iam::123456789012:user/"
VICTIM = USER + "a" * 200
MATCHING = USER + "a" * 199 + "b"
LONG = "a" * 200
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(**element: Any) -> dict[str, Any]:
    return {"Effect": "Allow", **element}


def _deny(**element: Any) -> dict[str, Any]:
    return {"Effect": "Deny", **element}


_ALLOW_ALL = _allow(Action="*", Resource="*")

#: (element, policy, action, resource, context, decision on the victim, decision on a match)
CASES: list[tuple[str, str, str, str, dict[str, str], str, str]] = [
    (
        "Resource",
        _doc(_allow(Action="iam:GetUser", Resource=PATTERN)),
        "iam:GetUser",
        VICTIM,
        {},
        "implicitDeny",
        "allowed",
    ),
    (
        "NotResource",
        _doc(_ALLOW_ALL, _deny(Action="*", NotResource=PATTERN)),
        "iam:GetUser",
        VICTIM,
        {},
        "explicitDeny",
        "allowed",
    ),
    (
        "Action",
        _doc(_allow(Action="iam:" + WORST, Resource="*")),
        "iam:" + LONG,
        "*",
        {},
        "implicitDeny",
        "allowed",
    ),
    (
        "NotAction",
        _doc(_ALLOW_ALL, _deny(NotAction="iam:" + WORST, Resource="*")),
        "iam:" + LONG,
        "*",
        {},
        "explicitDeny",
        "allowed",
    ),
    (
        "StringLike",
        _doc(_allow(Action="*", Resource="*", Condition={"StringLike": {"aws:username": WORST}})),
        "iam:GetUser",
        "*",
        {"aws:username": LONG},
        "implicitDeny",
        "allowed",
    ),
    (
        "StringNotLike",
        _doc(_ALLOW_ALL, _deny(Action="*", Resource="*", Condition={"StringNotLike": {"aws:username": WORST}})),
        "iam:GetUser",
        "*",
        {"aws:username": LONG},
        "explicitDeny",
        "allowed",
    ),
    (
        "ArnLike",
        _doc(_allow(Action="*", Resource="*", Condition={"ArnLike": {"aws:SourceArn": PATTERN}})),
        "iam:GetUser",
        "*",
        {"aws:SourceArn": VICTIM},
        "implicitDeny",
        "allowed",
    ),
    (
        "ArnNotLike",
        _doc(_ALLOW_ALL, _deny(Action="*", Resource="*", Condition={"ArnNotLike": {"aws:SourceArn": PATTERN}})),
        "iam:GetUser",
        "*",
        {"aws:SourceArn": VICTIM},
        "explicitDeny",
        "allowed",
    ),
]  # fmt: skip


_RUN = "a" * 100  # the long value is the one ending in this


def _matching(value: str) -> str:
    """The value with its last character made the pattern's final `b`."""
    return value[:-1] + "b"


def _variants(
    action: str, resource: str, context: dict[str, str], victim: str, match: str
) -> list[tuple[str, str, dict[str, str], str]]:
    """The victim request, and the same with the long value ending in `b` (it matches)."""
    if action.endswith(_RUN):
        return [(action, resource, context, victim), (_matching(action), resource, context, match)]
    if resource.endswith(_RUN):
        return [(action, resource, context, victim), (action, _matching(resource), context, match)]
    changed = {k: _matching(v) for k, v in context.items()}
    return [(action, resource, context, victim), (action, resource, changed, match)]


@pytest.mark.parametrize(
    ("element", "policy", "action", "resource", "context", "victim", "match"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_evaluate_decides_the_finding(
    element: str,
    policy: str,
    action: str,
    resource: str,
    context: dict[str, str],
    victim: str,
    match: str,
) -> None:
    policies = PolicySet([parse_policy(policy, PolicyKind.MANAGED, "p")])
    for act, res, ctx, expected in _variants(action, resource, context, victim, match):
        request = Request(action=act, resource=res, context=RequestContext(ctx))
        assert evaluate(request, policies).decision == expected, element


def _simulate(policy: str, action: str, resource: str, context: dict[str, str]) -> str:
    params: dict[str, Any] = {
        "PolicyInputList": [policy],
        "ActionNames": [action],
        "ResourceArns": [resource],
        "ContextEntries": [
            {"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"}
            for k, v in context.items()
        ],
    }
    (result,) = simulate_custom_policy(params, now=NOW)["EvaluationResults"]
    decision: str = result["EvalDecision"]
    return decision


@pytest.mark.parametrize(
    ("element", "policy", "action", "resource", "context", "victim", "match"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_simulate_custom_policy_decides_the_finding(
    element: str,
    policy: str,
    action: str,
    resource: str,
    context: dict[str, str],
    victim: str,
    match: str,
) -> None:
    if action.endswith(_RUN):
        # SimulateCustomPolicy takes action names of at most 128 characters: with 124 `a`s
        # the finding needs a few more stars to be as slow on a backtracking matcher.
        stars = "*a" * 8 + "*b"
        policy = policy.replace(WORST, stars)
        action = "iam:" + "a" * 124
    for act, res, ctx, expected in _variants(action, resource, context, victim, match):
        assert _simulate(policy, act, res, ctx) == expected, element
