from __future__ import annotations

import pytest

from selfiam.domain import arns
from selfiam.domain.arns import ArnError, IamArn

ACCOUNT = "123456789012"


def test_build_with_default_and_nested_paths() -> None:
    assert arns.user_arn(ACCOUNT, "Bob") == f"arn:aws:iam::{ACCOUNT}:user/Bob"
    assert arns.user_arn(ACCOUNT, "Bob", "/division/eng/") == (
        f"arn:aws:iam::{ACCOUNT}:user/division/eng/Bob"
    )
    assert arns.group_arn(ACCOUNT, "Admins") == f"arn:aws:iam::{ACCOUNT}:group/Admins"
    assert arns.role_arn(ACCOUNT, "R", "/service-role/") == (
        f"arn:aws:iam::{ACCOUNT}:role/service-role/R"
    )
    assert arns.policy_arn(ACCOUNT, "P") == f"arn:aws:iam::{ACCOUNT}:policy/P"
    assert arns.aws_managed_policy_arn("AdministratorAccess") == (
        "arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert arns.mfa_arn(ACCOUNT, "bob-phone") == f"arn:aws:iam::{ACCOUNT}:mfa/bob-phone"
    assert arns.root_arn(ACCOUNT) == f"arn:aws:iam::{ACCOUNT}:root"
    assert arns.assumed_role_arn(ACCOUNT, "R", "s1") == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s1"
    )
    assert arns.federated_user_arn(ACCOUNT, "fed") == f"arn:aws:sts::{ACCOUNT}:federated-user/fed"


@pytest.mark.parametrize("path", [None, "", "/"])
def test_default_path(path) -> None:
    assert arns.normalize_path(path) == "/"


@pytest.mark.parametrize("path", ["a/", "/a", "/a b/", "/a\tb/", "/" + "a" * 511 + "/"])
def test_bad_paths(path) -> None:
    with pytest.raises(ArnError):
        arns.normalize_path(path)
    with pytest.raises(ArnError):
        arns.user_arn(ACCOUNT, "Bob", path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"arn:aws:iam::{ACCOUNT}:user/Bob", IamArn("iam", ACCOUNT, "user", "/", "Bob")),
        (
            f"arn:aws:iam::{ACCOUNT}:user/a/b/Bob",
            IamArn("iam", ACCOUNT, "user", "/a/b/", "Bob"),
        ),
        ("arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
         IamArn("iam", "aws", "policy", "/service-role/", "AWSLambdaRole")),
        (f"arn:aws:iam::{ACCOUNT}:root", IamArn("iam", ACCOUNT, "root", "/", "")),
        (f"arn:aws:iam::{ACCOUNT}:mfa/phone", IamArn("iam", ACCOUNT, "mfa", "/", "phone")),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/R/sess",
         IamArn("sts", ACCOUNT, "assumed-role", "/", "R", "sess")),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/fed",
         IamArn("sts", ACCOUNT, "federated-user", "/", "fed")),
    ],
)
def test_parse_and_round_trip(text, expected) -> None:
    parsed = arns.parse_iam_arn(text)
    assert parsed == expected
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not-an-arn",
        "arn:aws:iam::123",
        f"arn:aws:s3:::bucket/{ACCOUNT}",
        f"arn:aws:iam:us-east-1:{ACCOUNT}:user/Bob",
        "arn:aws:iam:::user/Bob",
        f"arn:aws:iam::{ACCOUNT}:user/",
        f"arn:aws:iam::{ACCOUNT}:user",
        f"arn:aws:iam::{ACCOUNT}:bucket/x",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/R",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s/t",
    ],
)
def test_parse_rejects(text) -> None:
    with pytest.raises(ArnError):
        arns.parse_iam_arn(text)


def test_generic_arn_keeps_colons_in_resource() -> None:
    a = arns.parse_arn("arn:aws:logs:us-east-1:123456789012:log-group:x:*")
    assert a.resource == "log-group:x:*"
    assert str(a) == "arn:aws:logs:us-east-1:123456789012:log-group:x:*"


def test_path_prefix_filter() -> None:
    assert arns.path_matches_prefix("/a/b/", "/a/")
    assert arns.path_matches_prefix("/a/b/", None)
    assert not arns.path_matches_prefix("/ab/", "/a/")
