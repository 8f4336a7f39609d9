"""RequestContext: case-insensitive keys, string-tuple values.

AWS, "IAM policy elements: Variables and tags": "Key names are case-insensitive.
For example, aws:CurrentTime is equivalent to AWS:currenttime."
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from selfiam.policy.context import RequestContext


@pytest.mark.parametrize(
    ("given", "asked", "expected"),
    [
        # Variables and tags: key names are case-insensitive.
        ({"aws:CurrentTime": "2024-01-01T00:00:00Z"}, "AWS:currenttime", ("2024-01-01T00:00:00Z",)),
        ({"aws:username": "alice"}, "aws:UserName", ("alice",)),
        ({"aws:PrincipalTag/Team": "ops"}, "aws:principaltag/team", ("ops",)),
        # Bool operator: the request carries "true"/"false".
        ({"aws:SecureTransport": True}, "aws:SecureTransport", ("true",)),
        ({"aws:MultiFactorAuthPresent": False}, "aws:MultiFactorAuthPresent", ("false",)),
        # Numeric keys: aws:MultiFactorAuthAge, s3:max-keys.
        ({"aws:MultiFactorAuthAge": 300}, "aws:MultiFactorAuthAge", ("300",)),
        ({"x:ratio": 1.5}, "x:ratio", ("1.5",)),
        # Multivalued keys: aws:TagKeys.
        ({"aws:TagKeys": ["a", "b"]}, "aws:tagkeys", ("a", "b")),
        ({"aws:TagKeys": ()}, "aws:TagKeys", ()),
        # Absent key.
        ({"aws:username": "alice"}, "aws:userid", None),
        # aws:CurrentTime from the injected clock.
        (
            {"aws:CurrentTime": datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)},
            "aws:CurrentTime",
            ("2024-05-01T12:00:00Z",),
        ),
        (
            {"aws:CurrentTime": datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))},
            "aws:CurrentTime",
            ("2024-05-01T12:00:00Z",),
        ),
        ({"aws:CurrentTime": datetime(2024, 5, 1)}, "aws:CurrentTime", ("2024-05-01T00:00:00Z",)),
    ],
)
def test_get_is_case_insensitive_and_normalizes(
    given: dict[str, object], asked: str, expected: tuple[str, ...] | None
) -> None:
    ctx = RequestContext(given)  # type: ignore[arg-type]
    assert ctx.get(asked) == expected
    assert (asked in ctx) is (expected is not None)


def test_empty_and_none() -> None:
    assert len(RequestContext()) == 0
    assert RequestContext(None).get("aws:username") is None
    assert 42 not in RequestContext({"aws:username": "a"})


def test_keys_keep_original_spelling() -> None:
    ctx = RequestContext({"aws:PrincipalTag/Team": "ops", "aws:username": "alice"})
    assert list(ctx.keys()) == ["aws:PrincipalTag/Team", "aws:username"]
    assert dict(ctx.items()) == {"aws:PrincipalTag/Team": ("ops",), "aws:username": ("alice",)}


def test_with_values_copies_and_overrides() -> None:
    base = RequestContext({"aws:username": "alice"})
    more = base.with_values({"AWS:USERNAME": "bob", "aws:SourceIp": "203.0.113.5"})
    assert base.get("aws:username") == ("alice",)
    assert base.get("aws:SourceIp") is None
    assert more.get("aws:username") == ("bob",)
    assert more.get("aws:sourceip") == ("203.0.113.5",)


def test_equality_and_repr() -> None:
    a = RequestContext({"aws:username": "alice"})
    b = RequestContext({"AWS:UserName": "alice"})
    assert a == b and hash(a) == hash(b)
    assert a != RequestContext({"aws:username": "bob"})
    assert "alice" in repr(a)


def test_get_normalized_takes_a_lowercased_key() -> None:
    ctx = RequestContext({"aws:UserName": "alice"})
    assert ctx.get_normalized("aws:username") == ("alice",)


def test_rejects_unsupported_values() -> None:
    with pytest.raises(TypeError):
        RequestContext({"x:y": object()})  # type: ignore[dict-item]
