"""Action, Resource and StringLike-style matching.

Sources: AWS "IAM JSON policy elements: Action", "IAM JSON policy elements:
Resource", "Condition operators" (String and ARN operators), "IAM policy
elements: Variables and tags".
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfiam.policy.context import RequestContext
from selfiam.policy.errors import MalformedPolicyError
from selfiam.policy.patterns import (
    ActionPattern,
    ResourcePattern,
    StringPattern,
    action_pattern,
    compile_arn_glob,
    compile_glob,
    resource_pattern,
)

ACCOUNT = "123456789012"
CTX = RequestContext(
    {
        "aws:username": "alice",
        "aws:PrincipalTag/department": "finance",
        "x:wild": "a*b",
        "aws:TagKeys": ["a", "b"],
    }
)

# -- Action -------------------------------------------------------------------

ACTION_CASES = [
    # (doc/example, pattern, action, matches)
    ("Action: all actions", "*", "iam:CreateUser", True),
    ("Action: exact", "iam:CreateAccessKey", "iam:CreateAccessKey", True),
    ("Action: case-insensitive names", "iam:createaccesskey", "IAM:CreateAccessKey", True),
    ("Action: case-insensitive prefix", "IAM:CreateAccessKey", "iam:createaccesskey", True),
    ("Variables page: iam:*AccessKey*", "iam:*AccessKey*", "iam:CreateAccessKey", True),
    ("Variables page: iam:*AccessKey*", "iam:*AccessKey*", "iam:ListAccessKeys", True),
    ("Variables page: iam:*AccessKey*", "iam:*AccessKey*", "iam:UpdateAccessKey", True),
    ("Variables page: iam:*AccessKey*", "iam:*AccessKey*", "iam:CreateUser", False),
    ("Action: prefix wildcard", "iam:Get*", "iam:GetUser", True),
    ("Action: prefix wildcard", "iam:Get*", "iam:ListUsers", False),
    ("Action: service wildcard", "iam:*", "iam:DeleteUser", True),
    ("Action: service wildcard is per service", "iam:*", "sts:GetCallerIdentity", False),
    ("Action: suffix wildcard", "iam:*User", "iam:CreateUser", True),
    ("Action: ? is one character", "iam:Get?ser", "iam:GetUser", True),
    ("Action: ? is one character", "iam:Get?ser", "iam:GetUUser", False),
    ("Action: exact, other action", "iam:CreateAccessKey", "iam:CreateAccessKeys", False),
    ("Action: exact, no prefix match", "iam:Create", "iam:CreateUser", False),
    ("Action: wildcard in the middle", "iam:*Login*Profile", "iam:CreateLoginProfile", True),
    ("Action: hyphenated service", "aws-portal:View*", "aws-portal:ViewBilling", True),
]


@pytest.mark.parametrize(("doc", "pattern", "action", "expected"), ACTION_CASES)
def test_action_matches(doc: str, pattern: str, action: str, expected: bool) -> None:
    assert ActionPattern(pattern).matches(action) is expected, doc


@pytest.mark.parametrize(
    ("text", "service", "wildcard"),
    [
        ("*", "*", True),
        ("iam:CreateUser", "iam", False),
        ("IAM:CreateUser", "iam", False),
        ("iam:*", "iam", True),
        ("s3:Get?bject", "s3", True),
    ],
)
def test_action_attributes(text: str, service: str, wildcard: bool) -> None:
    pattern = ActionPattern(text)
    assert (pattern.text, pattern.service, pattern.is_wildcard) == (text, service, wildcard)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CreateUser", "must be prefaced by a vendor"),
        ("", "must be prefaced by a vendor"),
        (":CreateUser", "vendor"),
        ("i am:CreateUser", "vendor"),
        ("*:*", "vendor"),
        ("ia*:GetUser", "vendor"),
        ("iam:Get:User", "one colon"),
    ],
)
def test_action_rejects(text: str, message: str) -> None:
    with pytest.raises(MalformedPolicyError, match=message):
        ActionPattern(text)


def test_action_factory_is_cached() -> None:
    assert action_pattern("iam:Get*") is action_pattern("iam:Get*")


# -- Resource -----------------------------------------------------------------

RESOURCE_CASES = [
    # (doc/example, pattern, resource, matches)
    ("Resource: *", "*", f"arn:aws:iam::{ACCOUNT}:user/Bob", True),
    (
        "Resource: the IAM user named Bob",
        f"arn:aws:iam::{ACCOUNT}:user/Bob",
        f"arn:aws:iam::{ACCOUNT}:user/Bob",
        True,
    ),
    (
        "Resource: the IAM user name is case sensitive",
        f"arn:aws:iam::{ACCOUNT}:user/Bob",
        f"arn:aws:iam::{ACCOUNT}:user/bob",
        False,
    ),
    (
        "Resource: all IAM users whose path is /accounting",
        f"arn:aws:iam::{ACCOUNT}:user/accounting/*",
        f"arn:aws:iam::{ACCOUNT}:user/accounting/ann",
        True,
    ),
    (
        "Resource: ... and deeper paths",
        f"arn:aws:iam::{ACCOUNT}:user/accounting/*",
        f"arn:aws:iam::{ACCOUNT}:user/accounting/eu/ann",
        True,
    ),
    (
        "Resource: other path",
        f"arn:aws:iam::{ACCOUNT}:user/accounting/*",
        f"arn:aws:iam::{ACCOUNT}:user/sales/ann",
        False,
    ),
    (
        "Resource: all items within a bucket",
        "arn:aws:s3:::my_corporate_bucket/*",
        "arn:aws:s3:::my_corporate_bucket/a/b/c.txt",
        True,
    ),
    (
        "Resource: * spans slashes (amzn-s3-demo-bucket/*/test/*)",
        "arn:aws:s3:::amzn-s3-demo-bucket/*/test/*",
        "arn:aws:s3:::amzn-s3-demo-bucket/1/2/test/3/4",
        True,
    ),
    (
        "Resource: ? is one character (1???/test/*)",
        "arn:aws:s3:::amzn-s3-demo-bucket/1???/test/*",
        "arn:aws:s3:::amzn-s3-demo-bucket/1000/test/object.txt",
        True,
    ),
    (
        "Resource: ? is one character (1???/test/*)",
        "arn:aws:s3:::amzn-s3-demo-bucket/1???/test/*",
        "arn:aws:s3:::amzn-s3-demo-bucket/10000/test/object.txt",
        False,
    ),
    (
        "Resource: * in the resource part spans colons",
        "arn:aws:logs:us-east-1:1:log-group:*",
        "arn:aws:logs:us-east-1:1:log-group:/aws/x:log-stream:y",
        True,
    ),
    (
        "Resource: wildcards in any segment",
        "arn:aws:iam::*:mfa/*",
        f"arn:aws:iam::{ACCOUNT}:mfa/alice",
        True,
    ),
    (
        "Resource: wildcard region",
        "arn:aws:rds:us-west-?:*:pg:*",
        "arn:aws:rds:us-west-2:1:pg:default",
        True,
    ),
    (
        "Resource: wildcard region, other region",
        "arn:aws:rds:us-west-?:*:pg:*",
        "arn:aws:rds:eu-west-2:1:pg:default",
        False,
    ),
    (
        "Resource: wildcard partition",
        "arn:*:ec2:*:*:security-group/*",
        "arn:aws-cn:ec2:cn-north-1:1:security-group/sg-1",
        True,
    ),
    # ARN operators: "The first asterisk matches only us-east-2 and fails on
    # 999999999999:store/abc:" -- a wildcard in the first five fields never spans a colon.
    (
        "ARN operators: per-field matching",
        "arn:aws:someservice:*:111122223333:finance/*",
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
        False,
    ),
    (
        "ARN operators: per-field matching, same account",
        "arn:aws:someservice:*:111122223333:finance/*",
        "arn:aws:someservice:us-east-2:111122223333:finance/document.txt",
        True,
    ),
    (
        "Per field: * in account does not eat a colon",
        "arn:aws:iam::*:mfa/*",
        f"arn:aws:iam::{ACCOUNT}:x:mfa/alice",
        False,
    ),
    ("Per field: empty region/account", "arn:aws:s3:::bucket", "arn:aws:s3:::bucket", True),
    (
        "Per field: a literal region must be equal",
        "arn:aws:sqs:us-east-2:*:q",
        "arn:aws:sqs:us-east-1:1:q",
        False,
    ),
    ("Not an ARN is never matched by an ARN pattern", "arn:aws:s3:::*", "bucket", False),
    ("Resource must be a whole ARN", "arn:aws:s3:::b", "arn:aws:s3:::bb", False),
    (
        "Trailing * of a short pattern expands beyond colons",
        "arn:aws:ec2:*",
        "arn:aws:ec2:us-east-1:1:instance/i-1",
        True,
    ),
    (
        "Trailing * of a short pattern, other service",
        "arn:aws:ec2:*",
        "arn:aws:s3:::bucket/key",
        False,
    ),
    (
        "Variables page: ${aws:username} in an S3 ARN",
        "arn:aws:s3:::mybucket/${aws:username}/*",
        "arn:aws:s3:::mybucket/alice/notes.txt",
        True,
    ),
    (
        "Variables page: another user's folder",
        "arn:aws:s3:::mybucket/${aws:username}/*",
        "arn:aws:s3:::mybucket/bob/notes.txt",
        False,
    ),
    (
        "Variables page: user's own access keys",
        f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}",
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        True,
    ),
    (
        "Variables page: SQS queue named after the user",
        "arn:aws:sqs:us-east-2:*:${aws:username}-queue",
        "arn:aws:sqs:us-east-2:1:alice-queue",
        True,
    ),
    (
        "Variables page: tag value in an ARN",
        "arn:aws:s3:::bucket/${aws:PrincipalTag/department}",
        "arn:aws:s3:::bucket/finance",
        True,
    ),
    (
        "Variables page: variable without a value matches nothing",
        "arn:aws:s3:::bucket/${aws:PrincipalTag/missing}",
        "arn:aws:s3:::bucket/",
        False,
    ),
    (
        "Variables page: multivalued key has no value",
        "arn:aws:s3:::bucket/${aws:TagKeys}",
        "arn:aws:s3:::bucket/a",
        False,
    ),
    (
        "Variables page: default value",
        "arn:aws:s3:::bucket/${aws:userid, 'anonymous'}",
        "arn:aws:s3:::bucket/anonymous",
        True,
    ),
    (
        "Variables page: a value's * is literal",
        "arn:aws:s3:::bucket/${x:wild}",
        "arn:aws:s3:::bucket/a*b",
        True,
    ),
    (
        "Variables page: a value's * is literal",
        "arn:aws:s3:::bucket/${x:wild}",
        "arn:aws:s3:::bucket/aXb",
        False,
    ),
    (
        "Special characters: ${*} is a literal *",
        "arn:aws:s3:::bucket/${*}",
        "arn:aws:s3:::bucket/*",
        True,
    ),
    (
        "Special characters: ${*} is a literal *",
        "arn:aws:s3:::bucket/${*}",
        "arn:aws:s3:::bucket/x",
        False,
    ),
    (
        "Special characters: ${?} is a literal ?",
        "arn:aws:s3:::b/what${?}",
        "arn:aws:s3:::b/what?",
        True,
    ),
    (
        "Special characters: ${?} is a literal ?",
        "arn:aws:s3:::b/what${?}",
        "arn:aws:s3:::b/whatX",
        False,
    ),
    ("Special characters: ${$} is a literal $", "arn:aws:s3:::b/${$}x", "arn:aws:s3:::b/$x", True),
]


@pytest.mark.parametrize(("doc", "pattern", "resource", "expected"), RESOURCE_CASES)
def test_resource_matches(doc: str, pattern: str, resource: str, expected: bool) -> None:
    assert ResourcePattern(pattern, True).matches(resource, CTX) is expected, doc


def test_resource_variables_are_literal_before_2012_10_17() -> None:
    # Variables page: without Version 2012-10-17, ${aws:username} is a literal string.
    pattern = ResourcePattern("arn:aws:s3:::mybucket/${aws:username}/*", False)
    assert pattern.variable_keys == ()
    assert pattern.matches("arn:aws:s3:::mybucket/${aws:username}/x", CTX)
    assert not pattern.matches("arn:aws:s3:::mybucket/alice/x", CTX)


def test_resource_variable_keys_and_missing() -> None:
    pattern = ResourcePattern("arn:aws:s3:::b/${aws:username}/${aws:TokenIssueTime}", True)
    assert pattern.variable_keys == ("aws:username", "aws:TokenIssueTime")
    missing: set[str] = set()
    assert not pattern.matches("arn:aws:s3:::b/alice/x", CTX, missing)
    assert missing == {"aws:TokenIssueTime"}


def test_resource_variable_only_in_resource_part() -> None:
    # Variables page: "You can't use a variable to replace parts of the ARN before the
    # fifth colon" -- there it stays literal text.
    pattern = ResourcePattern("arn:aws:s3:${aws:username}::b", True)
    assert pattern.variable_keys == ()
    assert not pattern.matches("arn:aws:s3:alice::b", CTX)


def test_rendered_patterns_are_cached() -> None:
    compile_arn_glob.cache_clear()
    pattern = ResourcePattern("arn:aws:s3:::b/${aws:username}/*", True)
    for _ in range(3):
        assert pattern.matches("arn:aws:s3:::b/alice/k", CTX)
    info = compile_arn_glob.cache_info()
    assert info.misses == 1  # compiled once, then reused by rendered text
    assert resource_pattern("arn:aws:s3:::b/*", True) is resource_pattern("arn:aws:s3:::b/*", True)


@pytest.mark.parametrize(
    "text",
    [
        "bucket",
        "",
        "arn",
        "arn:aws:s3:::",  # six fields: accepted (an empty resource part) -- see below
        "ARN:aws:s3:::b",
        "arn:aws:s3:::b/${aws:username",
        "vpc-1234",
        "**",
    ],
)
def test_resource_validation(text: str) -> None:
    if text == "arn:aws:s3:::":
        ResourcePattern(text, True)
        return
    with pytest.raises(MalformedPolicyError) as err:
        ResourcePattern(text, True)
    if "${" not in text:
        # AWS's own wording, e.g. 'Resource vpc-1234 must be in ARN format or "*".'
        assert str(err.value) == f'Resource {text} must be in ARN format or "*".'


# -- StringLike-style ---------------------------------------------------------

STRING_CASES = [
    # (doc/example, pattern, value, ignore_case, matches)
    ("StringLike: home/${aws:username}/ prefix use", "home/*", "home/alice/", False, True),
    ("StringLike: case-sensitive", "Home/*", "home/alice/", False, False),
    ("StringLike: empty pattern matches empty", "", "", False, True),
    ("StringLike: empty pattern", "", "x", False, False),
    ("StringLike: * matches empty", "a*", "a", False, True),
    ("StringLike: ? needs one char", "a?", "a", False, False),
    ("StringLike: t1.* (IfExists example)", "t1.*", "t1.micro", False, True),
    ("StringLike: . is literal", "t1.*", "t1Xmicro", False, False),
    ("StringLike: regex chars literal", "a+b(c)[d]", "a+b(c)[d]", False, True),
    ("StringLike: infix", "*mid*", "xxmidyy", False, True),
    ("StringLike: suffix", "*.txt", "a/b.txt", False, True),
    ("StringLike: complex", "a*b?c*d", "aXXbYcZZd", False, True),
    ("StringLike: complex", "a*b?c*d", "aXXbcZZd", False, False),
    ("StringLike: newline is a character", "a*b", "a\nb", False, True),
    ("ignore case", "HOME/*", "home/x", True, True),
    ("ignore case, literal", "ABC", "abc", True, True),
]


@pytest.mark.parametrize(("doc", "pattern", "value", "ignore_case", "expected"), STRING_CASES)
def test_string_pattern(
    doc: str, pattern: str, value: str, ignore_case: bool, expected: bool
) -> None:
    assert StringPattern(pattern, ignore_case).matches(value) is expected, doc


def test_compile_glob_escapes() -> None:
    assert compile_glob("a\\*b")("a*b")
    assert not compile_glob("a\\*b")("axb")
    assert compile_glob("a\\\\b")("a\\b")
    assert compile_glob("trailing\\")("trailing\\")


# -- fuzz ---------------------------------------------------------------------

_ARNISH = st.text(alphabet="arn:aws*?${}/'-, \\x1", max_size=40)


@given(st.one_of(st.text(max_size=40), _ARNISH))
def test_fuzz_resource_pattern(text: str) -> None:
    for enabled in (True, False):
        try:
            pattern = ResourcePattern(text, enabled)
        except MalformedPolicyError:
            continue
        assert isinstance(pattern.matches("arn:aws:s3:::b/k", CTX), bool)
        assert isinstance(pattern.matches(text, CTX), bool)


@given(st.one_of(st.text(max_size=30), st.text(alphabet="iam:*?Get- ", max_size=20)))
def test_fuzz_action_pattern(text: str) -> None:
    try:
        pattern = ActionPattern(text)
    except MalformedPolicyError:
        return
    assert isinstance(pattern.matches("iam:GetUser"), bool)


@given(st.text(alphabet="ab*?\\", max_size=12), st.text(alphabet="ab*?\\", max_size=12))
def test_fuzz_glob_agrees_with_fnmatch_semantics(pattern: str, value: str) -> None:
    # Compare the fast paths against a plain regex built from the same escaped glob.
    import re

    regex = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if c == "*" else "." if c == "?" else re.escape(c)
        i += 1
    expected = re.fullmatch(regex, value, re.DOTALL) is not None
    assert compile_glob(pattern)(value) is expected
