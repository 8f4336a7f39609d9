"""``selfiam onboard USER``: a new user with a one-time console password, through boto3.

Against any IAM endpoint: CreateUser (with tags and path), a generated temporary password
that meets the account's password policy (GetAccountPasswordPolicy; an account without one
answers NoSuchEntity and IAM's default policy applies) set with CreateLoginProfile and
PasswordResetRequired, then AddUserToGroup for each group.

The groups are checked before anything is created, and if a later step fails the steps
already taken are undone, so a failed onboarding leaves no half-made user behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any
from urllib.parse import quote

from selfiam.domain.password_rules import AWS_DEFAULT_POLICY, PasswordPolicy, generate_password
from selfiam.tooling.endpoint import Endpoint, is_aws_url, is_missing

#: The console sign-in host of each AWS partition.
_SIGNIN_HOSTS = {
    "aws": "signin.aws.amazon.com",
    "aws-cn": "signin.amazonaws.cn",
    "aws-us-gov": "signin.amazonaws-us-gov.com",
}


class OnboardingError(Exception):
    """Bad input found before anything was created."""


@dataclass(frozen=True)
class Onboarded:
    user_name: str
    arn: str
    account: str
    sign_in_url: str
    password: str = field(repr=False)
    groups: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "user_name": self.user_name,
            "arn": self.arn,
            "account": self.account,
            "sign_in_url": self.sign_in_url,
            "password": self.password,
            "password_reset_required": True,
            "groups": list(self.groups),
        }


def parse_tags(pairs: Sequence[str]) -> list[dict[str, str]]:
    """``K=V`` strings as IAM's Tags (the value may be empty, the key may not)."""
    tags: list[dict[str, str]] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OnboardingError(f"a tag is KEY=VALUE, got {pair!r}")
        tags.append({"Key": key, "Value": value})
    return tags


def password_policy(iam: Any) -> PasswordPolicy:
    """The account's password policy; IAM's default one when the account has none."""
    try:
        stored = iam.get_account_password_policy()["PasswordPolicy"]
    except Exception as exc:
        if is_missing(exc):
            return AWS_DEFAULT_POLICY
        raise
    return PasswordPolicy.from_params(stored)


def sign_in_url(
    endpoint_url: str | None, account: str, *, alias: str | None = None, partition: str = "aws"
) -> str:
    """Where the new user signs in: AWS's console for an AWS account (the alias when there is
    one), the selfiam portal for any other endpoint."""
    if is_aws_url(endpoint_url):
        host = _SIGNIN_HOSTS.get(partition, _SIGNIN_HOSTS["aws"])
        return f"https://{alias or account}.{host}/console"
    assert endpoint_url is not None
    return f"{endpoint_url.rstrip('/')}/portal/signin?account={quote(account, safe='')}"


def create_secret_file(path: str) -> IO[str]:
    """A new file readable by its owner only (mode 0600 from the start, never a moment
    wider); an existing file is not overwritten (FileExistsError)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8")


def _account_alias(iam: Any) -> str | None:
    aliases = iam.list_account_aliases().get("AccountAliases") or []
    return str(aliases[0]) if aliases else None


def _check_groups(iam: Any, groups: Sequence[str]) -> None:
    missing = []
    for group in groups:
        try:
            iam.get_group(GroupName=group, MaxItems=1)
        except Exception as exc:
            if not is_missing(exc):
                raise
            missing.append(group)
    if missing:
        raise OnboardingError(f"no such group: {', '.join(missing)}; nothing was created")


def _ensure_reset_required(
    iam: Any, user_name: str, policy: PasswordPolicy, report: Callable[[str], None]
) -> str | None:
    """Check that the endpoint kept PasswordResetRequired: a temporary password that never
    has to be changed would stay known to whoever onboarded the user. If it did not, set it
    with UpdateLoginProfile and a fresh password (given explicitly: moto_server, for one,
    drops the flag on CreateLoginProfile and the password on an UpdateLoginProfile without
    one), and return that password; None when the first one stands."""
    if iam.get_login_profile(UserName=user_name)["LoginProfile"].get("PasswordResetRequired"):
        return None
    password = generate_password(policy, user_name)
    iam.update_login_profile(UserName=user_name, Password=password, PasswordResetRequired=True)
    report("the endpoint ignored PasswordResetRequired on CreateLoginProfile: set it again")
    return password


def onboard(
    endpoint: Endpoint,
    user_name: str,
    *,
    groups: Sequence[str] = (),
    tags: Sequence[Mapping[str, str]] = (),
    path: str | None = None,
    report: Callable[[str], None] = lambda _: None,
) -> Onboarded:
    iam = endpoint.iam
    caller = endpoint.caller_arn()
    partition, account = caller.split(":")[1], caller.split(":")[4]
    _check_groups(iam, groups)
    policy = password_policy(iam)
    alias = _account_alias(iam) if endpoint.is_aws else None

    params: dict[str, Any] = {"UserName": user_name}
    if path:
        params["Path"] = path
    if tags:
        params["Tags"] = list(tags)
    user = iam.create_user(**params)["User"]
    report(f"created user {user['Arn']}")
    undo: list[Callable[[], Any]] = [partial(iam.delete_user, UserName=user_name)]
    try:
        password = generate_password(policy, user_name)
        iam.create_login_profile(UserName=user_name, Password=password, PasswordResetRequired=True)
        undo.append(partial(iam.delete_login_profile, UserName=user_name))
        password = _ensure_reset_required(iam, user_name, policy, report) or password
        report("created login profile (password must be changed at first sign-in)")
        for group in groups:
            iam.add_user_to_group(GroupName=group, UserName=user_name)
            undo.append(partial(iam.remove_user_from_group, GroupName=group, UserName=user_name))
            report(f"added to group {group}")
    except BaseException:
        for step in reversed(undo):
            try:
                step()
            except Exception as exc:
                if not is_missing(exc):
                    report(f"could not undo a step: {exc}")
        report(f"onboarding failed: user {user_name} removed again")
        raise
    return Onboarded(
        user_name=user["UserName"],
        arn=user["Arn"],
        account=account,
        sign_in_url=sign_in_url(endpoint.url, account, alias=alias, partition=partition),
        password=password,
        groups=tuple(groups),
    )


def write_onboarded(handle: IO[str], onboarded: Onboarded) -> None:
    json.dump(onboarded.as_json(), handle, indent=2)
    handle.write("\n")
