"""The pure parts of ``selfiam onboard``: sign-in URLs, the secret file, tags, the policy."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from selfiam.domain.password_rules import generate_password, violations
from selfiam.tooling.onboard import (
    Onboarded,
    OnboardingError,
    create_secret_file,
    parse_tags,
    sign_in_url,
    write_onboarded,
)


@pytest.mark.parametrize(
    ("endpoint", "alias", "partition", "url"),
    [
        (None, None, "aws", "https://123456789012.signin.aws.amazon.com/console"),
        (None, "acme", "aws", "https://acme.signin.aws.amazon.com/console"),
        (
            "https://iam.amazonaws.com",
            None,
            "aws",
            "https://123456789012.signin.aws.amazon.com/console",
        ),
        (
            "https://iam.cn-north-1.amazonaws.com.cn",
            None,
            "aws-cn",
            "https://123456789012.signin.amazonaws.cn/console",
        ),
        (None, None, "aws-us-gov", "https://123456789012.signin.amazonaws-us-gov.com/console"),
        (
            "http://127.0.0.1:8000",
            None,
            "aws",
            "http://127.0.0.1:8000/portal/signin?account=123456789012",
        ),
        (
            "https://iam.example.org/",
            "ignored",
            "aws",
            "https://iam.example.org/portal/signin?account=123456789012",
        ),
    ],
)
def test_sign_in_url(endpoint: str | None, alias: str | None, partition: str, url: str) -> None:
    assert sign_in_url(endpoint, "123456789012", alias=alias, partition=partition) == url


def test_a_look_alike_host_is_not_aws() -> None:
    url = sign_in_url("https://amazonaws.com.example.org", "123456789012")
    assert url.startswith("https://amazonaws.com.example.org/portal/signin")


def test_the_secret_file_is_private_from_the_start(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask
    try:
        path = tmp_path / "alice.json"
        with create_secret_file(str(path)) as handle:
            assert stat.S_IMODE(os.fstat(handle.fileno()).st_mode) == 0o600
            write_onboarded(
                handle,
                Onboarded("alice", "arn:aws:iam::1:user/alice", "1", "https://x", "pw", ("G",)),
            )
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["password"] == "pw"


def test_the_secret_file_is_never_overwritten_or_followed(tmp_path: Path) -> None:
    existing = tmp_path / "existing.json"
    existing.write_text("keep")
    with pytest.raises(FileExistsError):
        create_secret_file(str(existing))
    assert existing.read_text() == "keep"
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(FileExistsError):
        create_secret_file(str(link))
    assert not (tmp_path / "elsewhere.json").exists()


def test_the_password_is_not_in_the_repr() -> None:
    done = Onboarded("a", "arn", "1", "url", "s3cret-Passw0rd!", ())
    assert "s3cret" not in repr(done)


def test_tags() -> None:
    assert parse_tags(["team=platform", "empty=", "eq=a=b"]) == [
        {"Key": "team", "Value": "platform"},
        {"Key": "empty", "Value": ""},
        {"Key": "eq", "Value": "a=b"},
    ]
    for bad in ("novalue", "=value"):
        with pytest.raises(OnboardingError):
            parse_tags([bad])


def test_generated_passwords_meet_awss_default_policy() -> None:
    from selfiam.domain.password_rules import AWS_DEFAULT_POLICY

    for _ in range(50):
        assert violations(generate_password(AWS_DEFAULT_POLICY, "alice"), AWS_DEFAULT_POLICY) == []
