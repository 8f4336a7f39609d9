"""The fast path for Resource ARN patterns with policy variables agrees with the general one.

`ResourcePattern.matches` takes `arns.variable_matcher` when the resource part is literal
text around variables; `ResourcePattern._general` renders the variables into a glob and
runs the compiled ARN matcher. Both must give the same answer and report the same missing
keys, for every pattern, ARN and request context.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from selfiam.policy.arns import head_of, variable_matcher
from selfiam.policy.context import RequestContext
from selfiam.policy.errors import MalformedPolicyError
from selfiam.policy.globs import Matcher, compile_glob
from selfiam.policy.patterns import ResourcePattern
from selfiam.policy.variables import glob_escape

ACCOUNT = "123456789012"
OWN_USER = "arn:aws:iam::*:user/${aws:username}"


def _uses_fast_path(pattern: ResourcePattern) -> bool:
    return getattr(pattern.match, "__func__", None) is not ResourcePattern._general


def _agree(pattern: ResourcePattern, arn: str, ctx: RequestContext) -> bool:
    fast_missing: set[str] = set()
    general_missing: set[str] = set()
    fast = pattern.matches(arn, ctx, fast_missing)
    general = pattern._general(arn, ctx, general_missing)
    assert fast == general, (pattern.text, arn, ctx)
    assert fast_missing == general_missing, (pattern.text, arn, ctx)
    assert pattern.matches(arn, ctx) == fast
    return fast


# -- examples ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "arn", "expected"),
    [
        (OWN_USER, f"arn:aws:iam::{ACCOUNT}:user/alice", True),
        (OWN_USER, f"arn:aws:iam::{ACCOUNT}:user/bob", False),
        (OWN_USER, f"arn:aws:iam::{ACCOUNT}:user/alice2", False),
        (OWN_USER, f"arn:aws:iam::{ACCOUNT}:user/xalice", False),
        (OWN_USER, "arn:aws:iam:::user/alice", True),  # `*` matches an empty field
        (OWN_USER, f"arn:aws:iam::{ACCOUNT}:extra:user/alice", False),  # `*` spans no colon
        (OWN_USER, f"arn:aws:iam:us-east-1:{ACCOUNT}:user/alice", False),
        (OWN_USER, f"arn:aws:sts::{ACCOUNT}:user/alice", False),
        (OWN_USER, "user/alice", False),
        (
            "arn:aws:iam::123456789012:user/${aws:username}",
            f"arn:aws:iam::{ACCOUNT}:user/alice",
            True,
        ),
        ("arn:aws:iam::123456789012:user/${aws:username}", "arn:aws:iam::1:user/alice", False),
        ("arn:aws:s3:*:*:b/${aws:username}/k", "arn:aws:s3:eu-west-1:1:b/alice/k", True),
        ("arn:aws:s3:?u-*:*:b/${aws:username}", "arn:aws:s3:eu-west-1:1:b/alice", True),
        ("arn:aws:s3:?u-*:*:b/${aws:username}", "arn:aws:s3:us-west-1:1:b/alice", False),
        ("arn:*:s3:*:1:${aws:username}", "arn:aws:s3:r:1:alice", True),  # `*` fields apart
        ("arn:*:s3:*:1:${aws:username}", "arn:aws:s3:r:2:alice", False),
        ("arn:aws:s3:*:1:${aws:username}", "arn:aws:s3:r:1:alice", True),
        ("arn:aws:s3:*:1:${aws:username}", "arn:aws:s3:r:x:1:alice", False),
        ("arn:aws:s3:*:1:${aws:username}", "arn:aws:s3:1:alice", False),
        ("arn:aws:s3:*:*:${aws:username}", "arn:aws:s3:::alice", True),
        ("arn:aws:s3:*:*:${aws:username}", "arn:aws:s3::alice", False),
        ("arn:*:*:*:*:${aws:username}", "arn:::::alice", True),
        ("arn:?ws:s3:::${aws:username}${x:team}", "arn:aws:s3:::aliceblue", True),
        ("arn:?ws:s3:::${aws:username}${x:team}", "arn:aws:s3::x:aliceblue", False),
        ("arn:aws:s3:::${aws:username}:${x:team}", "arn:aws:s3:::alice:blue", True),
        ("arn:aws:s3:::${aws:username}:${x:team}", "arn:aws:s3:::alice:red", False),
        ("arn:aws:s3:*::${aws:username}/${x:team}", "arn:aws:s3:r::alice/blue", True),
        ("arn:aws:s3:::${x:missing, 'none'}/${aws:username}", "arn:aws:s3:::none/alice", True),
        ("arn:aws:s3:::${x:many}", "arn:aws:s3:::a", False),  # multivalued: no value
        ("arn:aws:s3:::a${*}${aws:username}", "arn:aws:s3:::a*alice", True),
        ("arn:aws:s3:::a${*}${aws:username}", "arn:aws:s3:::abalice", False),
        ("arn:aws:s3:::${x:wild}", "arn:aws:s3:::a*b", True),  # the value is literal
        ("arn:aws:s3:::${x:wild}", "arn:aws:s3:::axxb", False),
    ],
)
def test_fast_path_examples(text: str, arn: str, expected: bool) -> None:
    ctx = RequestContext(
        {"aws:username": "alice", "x:team": "blue", "x:many": ["a", "b"], "x:wild": "a*b"}
    )
    pattern = ResourcePattern(text, True)
    assert _uses_fast_path(pattern)
    assert _agree(pattern, arn, ctx) is expected


@pytest.mark.parametrize(
    "text",
    [
        "arn:aws:s3:::b/${aws:username}/*",  # a wildcard in the resource part
        "arn:aws:s3:::*${aws:username}",
        "arn:aws:s3:::b/*",  # no variable
        "arn:aws:s3:*",  # fewer than six fields
    ],
)
def test_other_shapes_take_the_general_path(text: str) -> None:
    assert not _uses_fast_path(ResourcePattern(text, True))


def test_missing_variable_is_reported_like_the_general_path() -> None:
    pattern = ResourcePattern(OWN_USER, True)
    missing: set[str] = set()
    assert not pattern.matches(f"arn:aws:iam::{ACCOUNT}:user/alice", RequestContext(), missing)
    assert missing == {"aws:username"}


def test_variable_matcher_rejects_unequal_lengths() -> None:
    def general(resource: str, ctx: RequestContext, missing: set[str] | None = None) -> bool:
        raise AssertionError("not reached")

    with pytest.raises(ValueError):
        variable_matcher(
            head_of(None, _matchers(None)), ("a", "b"), (("k", "k"), ("j", "j")), general
        )


@pytest.mark.parametrize(
    ("fields", "shape"),
    [
        (["arn", "aws", "iam", "", "1"], "literal"),
        (["arn", "aws", "iam", "", None], "run"),
        (["arn", "aws", "s3", None, "1"], "run"),
        (["arn", "aws", None, None, None], "run"),
        (["arn", None, "s3", None, "1"], "fields"),  # the `*` fields are apart
        (None, "fields"),
    ],
)
def test_head_shapes(fields: list[str | None] | None, shape: str) -> None:
    head = head_of(fields, _matchers(fields))
    got = "literal" if head.literal is not None else "fields" if head.fields else "run"
    assert got == shape
    general = head_of(None, _matchers(fields))
    reference = re.compile(_regex(fields), re.DOTALL)
    for arn in ("arn:aws:iam::1:x", "arn:aws:s3:r:1:x", "arn:aws:s3::1:", "arn:a:s3:r:1:x:y"):
        for end in range(len(arn) + 1):
            expected = reference.fullmatch(arn, 0, end) is not None
            assert head.test(arn, end) == expected, (fields, arn, end)
            assert general.test(arn, end) == expected, (fields, arn, end)


def _matchers(fields: list[str | None] | None) -> list[Matcher]:
    if fields is None:
        return [compile_glob(f) for f in ("arn", "*", "*", "*", "*")]
    return [compile_glob("*" if f is None else glob_escape(f)) for f in fields]


def _regex(fields: list[str | None] | None) -> str:
    """The reference: the regex the head's fields stand for (small inputs only)."""
    if fields is None:
        return "arn:[^:]*:[^:]*:[^:]*:[^:]*:"
    return "".join("[^:]*:" if f is None else re.escape(f) + ":" for f in fields)


# -- properties -------------------------------------------------------------------

_HEAD_FIELD = st.sampled_from(
    ["aws", "iam", "s3", "", "*", "**", "us-*", "?u-west-1", "eu-west-1", ACCOUNT, "1?3",
     "${aws:username}", "a\\b", "a$b", ".+"]
)  # fmt: skip
_PIECE = st.sampled_from(
    ["", "user/", "/", ":", "b/", "a:b", "$", "${*}", "${?}", "${$}", ".*", "x\\y", "(", "?",
     "*", "{", "}"]
)  # fmt: skip
_VARIABLE = st.one_of(
    st.sampled_from(["${aws:username}", "${AWS:UserName}", "${x:team}"]),
    st.sampled_from(["${x:absent}", "${x:absent, 'dflt'}", "${x:many}", "${x:empty}",
                     "${x:many, 'dflt'}"]),
)  # fmt: skip
_VALUE = st.text(alphabet="ab*?:/\\$.{}", max_size=6)
_FIELD_TEXT = st.sampled_from(
    ["aws", "iam", "s3", "", "us-east-1", "eu-west-1", ACCOUNT, "x:y", "a\\b", "${aws:username}"]
)


@st.composite
def _pattern(draw: st.DrawFn) -> str:
    head = [draw(_HEAD_FIELD) for _ in range(4)]
    parts = [draw(_PIECE)]
    for _ in range(draw(st.integers(1, 3))):
        parts.append(draw(_VARIABLE))
        parts.append(draw(_PIECE))
    return "arn:" + ":".join(head) + ":" + "".join(parts)


@st.composite
def _context(draw: st.DrawFn) -> RequestContext:
    values: dict[str, str | list[str]] = {"x:many": ["a", "b"], "x:empty": []}
    if draw(st.integers(0, 4)):
        values["aws:username"] = draw(_VALUE)
    if draw(st.integers(0, 4)):
        values["x:team"] = draw(_VALUE)
    return RequestContext(values)


def _render(text: str, ctx: RequestContext, fill: str) -> str:
    """An ARN close to what `text` matches: variables substituted, wildcards filled."""
    out = text
    for key in ("aws:username", "AWS:UserName", "x:team"):
        values = ctx.get(key)
        out = out.replace("${" + key + "}", values[0] if values else "")
    out = out.replace("${x:absent, 'dflt'}", "dflt").replace("${x:many, 'dflt'}", "dflt")
    out = out.replace("${*}", "*").replace("${?}", "?").replace("${$}", "$")
    return out.replace("**", fill).replace("*", fill).replace("?", fill[:1] or "z")


@settings(max_examples=600)
@given(_pattern(), _context(), st.sampled_from(["", "x", "eu-west-1", "a:b", "/"]), _FIELD_TEXT)
@example(OWN_USER, RequestContext({"aws:username": "alice"}), "", ACCOUNT)
def test_fast_path_agrees_with_general_path(
    text: str, ctx: RequestContext, fill: str, field: str
) -> None:
    try:
        pattern = ResourcePattern(text, True)
    except MalformedPolicyError:
        assume(False)
        return
    near = _render(text, ctx, fill)
    for arn in (near, near + "x", near[:-1], "x" + near, near.replace(":", "::", 1), text):
        _agree(pattern, arn, ctx)
    # A real ARN with one head field replaced.
    fields = near.split(":", 5)
    if len(fields) == 6:
        for i in range(1, 5):
            _agree(pattern, ":".join(fields[:i] + [field] + fields[i + 1 :]), ctx)


@given(st.text(alphabet="ab:/*?\\$", max_size=30), _context())
def test_fast_path_agrees_on_any_text(arn: str, ctx: RequestContext) -> None:
    for text in (OWN_USER, "arn:aws:s3:*:*:${aws:username}:${x:team}", "arn:aws:b:c:d:${x:team}"):
        _agree(ResourcePattern(text, True), arn, ctx)
