"""The evaluator's specialised paths agree with the general ones they stand in for.

* a condition whose policy values are precompiled (`static_any`) against the same
  condition evaluated through `ValueSet.bind`, the path for values with variables;
* the Bool predicate (a set of every spelling) against lowercasing the value;
* the memo in front of a static Resource matcher against the matcher itself;
* `evaluate` with identity policies only (one pass over the index) against the same
  request with a boundary that allows everything (the general path).
"""

from __future__ import annotations

import json

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from selfiam.policy import PolicyKind, Request, RequestContext, evaluate, parse_policy
from selfiam.policy.conditions import ConditionBlock, ConditionEntry
from selfiam.policy.errors import MalformedPolicyError
from selfiam.policy.operators import ValueSet, _text_predicate
from selfiam.policy.patterns import _MEMO_LIMIT, _memoized, compile_arn_glob
from selfiam.policy.variables import Template

_OPERATORS = [
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "Bool", "ArnLike", "ArnNotLike", "ArnEquals",
]  # fmt: skip
_TEXT = st.sampled_from(
    ["a", "A", "b", "a*", "*", "true", "TRUE", "false", "False", "arn:aws:s3:::b/*",
     "arn:aws:s3:::b/k", "", "tru", "truex"]
)  # fmt: skip


def _general(entry: ConditionEntry) -> ConditionEntry:
    """The same condition, with its values going through `ValueSet.bind` each time."""
    kind = entry.family.kind
    templates = tuple(Template.parse(v, True) for v in entry.values)
    valueset = ValueSet(None, kind, templates)
    return ConditionEntry(
        entry.operator, entry.key, entry.values, entry.family, entry.qualifier,
        entry.if_exists, valueset,
    )  # fmt: skip


@settings(max_examples=400)
@given(
    st.sampled_from(["", "ForAnyValue:", "ForAllValues:"]),
    st.sampled_from(_OPERATORS),
    st.booleans(),
    st.lists(_TEXT, min_size=1, max_size=3),
    st.one_of(st.none(), st.lists(_TEXT, max_size=3)),
)
def test_static_condition_agrees_with_bound_values(
    qualifier: str, operator: str, if_exists: bool, values: list[str], request: list[str] | None
) -> None:
    name = qualifier + operator + ("IfExists" if if_exists else "")
    try:
        block = ConditionBlock.compile({name: {"x:key": values}}, True, "Statement 1")
    except MalformedPolicyError:  # e.g. Bool with a value that is not true or false
        assume(False)
        return
    (fast,) = block.entries
    general = _general(fast)
    ctx = RequestContext({} if request is None else {"x:key": request})
    fast_missing: set[str] = set()
    general_missing: set[str] = set()
    assert fast.evaluate(ctx, fast_missing) == general.evaluate(ctx, general_missing)
    assert fast_missing == general_missing
    assert block.evaluator(ctx, None) == fast.evaluate(ctx, None)


@given(
    st.lists(st.sampled_from(["true", "false", "TRUE", "False"]), min_size=1, max_size=2),
    st.one_of(st.text(alphabet="truefalsTRUEFALS\u212a\u0130 ", max_size=6), _TEXT),
)
def test_bool_predicate_is_lowercase_membership(texts: list[str], value: str) -> None:
    wanted = {t.lower() for t in texts}
    assert _text_predicate("bool", texts)(value) == (value.lower() in wanted)


def test_memo_answers_like_the_matcher_and_stays_bounded() -> None:
    match = compile_arn_glob("arn:aws:s3:*:*:b/*")
    memoized = _memoized(match)
    arns = [f"arn:aws:s3:r:{i}:b/k" for i in range(_MEMO_LIMIT + 10)] + ["arn:aws:s3:r:1:c/k"]
    for arn in arns + arns:
        assert memoized(arn) == match(arn)
    assert len(memoized.__self__) <= _MEMO_LIMIT  # type: ignore[attr-defined]


_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iam:*AccessKey*", "iam:GetUser"],
         "Resource": "arn:aws:iam::*:user/${aws:username}"},
        {"Effect": "Allow", "Action": "iam:List*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": ["iam:GetUser", "iam:List*"], "Resource": "*",
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
        {"Effect": "Allow", "Action": "iam:*", "NotResource": "arn:aws:iam::*:user/admin*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}}},
        {"Effect": "Deny", "Action": "iam:Delete*",
         "Resource": ["arn:aws:iam::*:user/${aws:username}", "arn:aws:iam::*:role/*"]},
    ],
}  # fmt: skip
_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}  # fmt: skip


@given(
    st.sampled_from(["iam:CreateAccessKey", "iam:GetUser", "iam:ListUsers", "iam:DeleteUser",
                     "iam:DeleteRole", "iam:TagUser", "s3:GetObject"]),
    st.sampled_from(["alice", "bob", "admin1", "*"]),
    st.sampled_from(["user", "role"]),
    st.fixed_dictionaries(
        {},
        optional={
            "aws:username": st.sampled_from(["alice", "bob", "admin1"]),
            "aws:MultiFactorAuthPresent": st.sampled_from(["true", "false"]),
            "aws:PrincipalTag/team": st.sampled_from(["alice", "ops"]),
        },
    ),
)  # fmt: skip
def test_identity_only_path_agrees_with_general_path(
    action: str, name: str, kind: str, context: dict[str, str]
) -> None:
    identity = [parse_policy(json.dumps(_POLICY), PolicyKind.MANAGED, "p")]
    boundary = [parse_policy(json.dumps(_ALLOW_ALL), PolicyKind.BOUNDARY, "b")]
    request = Request(action, f"arn:aws:iam::123456789012:{kind}/{name}", RequestContext(context))
    fast = evaluate(request, identity)
    general = evaluate(request, identity, boundary=boundary)
    assert fast.decision == general.decision
    assert fast.missing_context_keys == general.missing_context_keys
    identity_matches = [m for m in general.matched_statements if m.policy_id == "p"]
    assert list(fast.matched_statements) == identity_matches
