"""Policy variables, after AWS "IAM policy elements: Variables and tags"."""

from __future__ import annotations

import pytest

from selfiam.policy.context import RequestContext
from selfiam.policy.errors import MalformedPolicyError
from selfiam.policy.variables import Template

CTX = RequestContext(
    {
        "aws:username": "alice",
        "aws:userid": "AIDAEXAMPLE",
        "aws:PrincipalTag/team": "ops",
        "aws:SourceIp": "203.0.113.5",
        "aws:CurrentTime": "2024-01-01T00:00:00Z",
        "s3:prefix": "home/alice/",
        "aws:TagKeys": ["a", "b"],  # multivalued
        "x:one": ["only"],  # a one-element list is a single value
        "x:star": "we*rd?",
    }
)

RENDER_CASES = [
    # (doc/example, text, variables_enabled, rendered)
    (
        "Introduction: ${aws:username} in an S3 ARN",
        "mybucket/${aws:username}/*",
        True,
        "mybucket/alice/*",
    ),
    ("Key names are case-insensitive", "${AWS:UserName}", True, "alice"),
    (
        "Tags as policy variables: aws:PrincipalTag",
        "bucket/${aws:PrincipalTag/team}",
        True,
        "bucket/ops",
    ),
    ("Request information: aws:SourceIp", "${aws:SourceIp}", True, "203.0.113.5"),
    ("Request information: aws:CurrentTime", "${aws:CurrentTime}", True, "2024-01-01T00:00:00Z"),
    ("Service-specific information: s3:prefix", "${s3:prefix}x", True, "home/alice/x"),
    ("Special characters: ${*}", "a${*}b", True, "a*b"),
    ("Special characters: ${?}", "a${?}b", True, "a?b"),
    ("Special characters: ${$}", "cost${$}", True, "cost$"),
    ("Specifying default values: key present", "${aws:userid, 'anonymous'}", True, "AIDAEXAMPLE"),
    (
        "Specifying default values: key absent",
        "${aws:FederatedProvider, 'anonymous'}",
        True,
        "anonymous",
    ),
    ("Specifying default values: empty default", "x${aws:nothing, ''}y", True, "xy"),
    ("Default value containing a brace", "${aws:nothing, 'a}b'}", True, "a}b"),
    (
        "Version 2008-10-17: variables are literal",
        "home/${aws:username}",
        False,
        "home/${aws:username}",
    ),
    (
        "Version 2008-10-17: unterminated is literal too",
        "home/${aws:username",
        False,
        "home/${aws:username",
    ),
    ("No variable at all", "plain text", True, "plain text"),
    ("A lone $ is literal", "cost$5 {x}", True, "cost$5 {x}"),
    ("Empty string", "", True, ""),
    ("Backslashes are literal text", "a\\b${aws:username}", True, "a\\balice"),
    ("Value with wildcard characters is inserted as-is", "${x:star}", True, "we*rd?"),
    ("One-element list is a single value", "${x:one}", True, "only"),
    ("Several variables", "${aws:username}-${aws:PrincipalTag/team}", True, "alice-ops"),
]


@pytest.mark.parametrize(("doc", "text", "enabled", "expected"), RENDER_CASES)
def test_render(doc: str, text: str, enabled: bool, expected: str) -> None:
    assert Template.parse(text, enabled).render(CTX) == expected, doc


NO_VALUE_CASES = [
    # "If AWS cannot resolve a variable this might cause the entire statement to be invalid"
    ("aws:TokenIssueTime absent for long-term credentials", "${aws:TokenIssueTime}"),
    ("absent key inside text", "home/${aws:FederatedProvider}/x"),
    # Single-valued vs. multivalued context keys: a multivalued key cannot be a variable.
    ("multivalued key used as a variable", "${aws:TagKeys}"),
]


@pytest.mark.parametrize(("doc", "text"), NO_VALUE_CASES)
def test_variable_without_value_renders_none(doc: str, text: str) -> None:
    template = Template.parse(text, True)
    assert template.render(CTX) is None, doc
    assert template.render_glob(CTX) is None, doc


def test_multivalued_key_falls_back_to_default() -> None:
    assert Template.parse("${aws:TagKeys, 'none'}", True).render(CTX) == "none"


def test_missing_keys_are_reported() -> None:
    missing: set[str] = set()
    Template.parse("${aws:TokenIssueTime}/${aws:username}", True).render(CTX, missing)
    assert missing == {"aws:TokenIssueTime"}


@pytest.mark.parametrize(
    ("text", "glob"),
    [
        # Special characters are literal even in a wildcard pattern.
        ("a${*}b*", "a\\*b*"),
        ("a${?}b?", "a\\?b?"),
        # A substituted value's own * and ? are literal.
        ("${x:star}/*", "we\\*rd\\?/*"),
        ("home/${aws:username}/*", "home/alice/*"),
        ("back\\slash*", "back\\\\slash*"),
    ],
)
def test_render_glob_escapes_literals(text: str, glob: str) -> None:
    assert Template.parse(text, True).render_glob(CTX) == glob


@pytest.mark.parametrize(
    ("text", "enabled", "is_literal", "keys"),
    [
        ("arn:aws:s3:::b/${aws:username}", True, False, ("aws:username",)),
        ("arn:aws:s3:::b/${aws:username}", False, True, ()),
        ("${*}${?}${$}", True, True, ()),
        ("${a:x}${A:X}${b:y, 'd'}", True, False, ("a:x", "A:X", "b:y")),
        ("plain", True, True, ()),
    ],
)
def test_literal_and_variable_keys(
    text: str, enabled: bool, is_literal: bool, keys: tuple[str, ...]
) -> None:
    template = Template.parse(text, enabled)
    assert template.is_literal is is_literal
    assert template.variable_keys == keys
    if is_literal:
        assert template.static_text == template.render(RequestContext())


@pytest.mark.parametrize(
    "text",
    [
        "home/${aws:username",  # unterminated
        "${",
        "a${}b",  # names no key
        "${ }",
        "${aws:username, anonymous}",  # default not quoted
        "${aws:username, 'a'b'}",
        "${aws:user'name}",
        "${aws:username 'x'}",
    ],
)
def test_malformed_variables(text: str) -> None:
    with pytest.raises(MalformedPolicyError):
        Template.parse(text, True)


def test_unterminated_message_is_clear() -> None:
    with pytest.raises(MalformedPolicyError, match="not terminated"):
        Template.parse("arn:aws:s3:::b/${aws:username", True)
