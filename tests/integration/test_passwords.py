"""Passwords over the wire: boto3 against a live selfiam server (SQLite)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer

pytestmark = pytest.mark.slow

TEMPORARY = "Temporary-Pass-2026"
CHOSEN = "Alices-Own-Secret-42"


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_password_policy_and_change_password(sqlite_server: LiveServer) -> None:
    admin = sqlite_server.client()
    acct = sqlite_server.account_id

    with pytest.raises(ClientError) as exc:
        admin.get_account_password_policy()
    assert error_of(exc) == (
        "NoSuchEntity",
        f"The Password Policy with domain name {acct} cannot be found.",
    )
    admin.update_account_password_policy(
        MinimumPasswordLength=14,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        PasswordReusePrevention=3,
        MaxPasswordAge=90,
    )
    policy = admin.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 14 and policy["ExpirePasswords"] is True
    assert policy["PasswordReusePrevention"] == 3 and policy["MaxPasswordAge"] == 90
    assert policy["AllowUsersToChangePassword"] is False

    for name in ("alice", "bob"):
        admin.create_user(UserName=name)
        admin.add_user_to_group(GroupName="SelfService", UserName=name)
    key = admin.create_access_key(UserName="alice")["AccessKey"]
    alice = sqlite_server.client(key["AccessKeyId"], key["SecretAccessKey"])

    # A weak password is refused with the rule named, and never echoed.
    with pytest.raises(ClientError) as exc:
        admin.create_login_profile(UserName="alice", Password="weakpassword")
    code, message = error_of(exc)
    assert code == "PasswordPolicyViolation"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "it must be at least 14 characters long" in message
    assert "uppercase letter" in message and "number" in message and "symbols" in message
    assert "weakpassword" not in message
    with pytest.raises(ClientError) as exc:
        admin.create_login_profile(UserName="alice", Password="Snowman-\u2603-Is-Not-Latin1")
    code, message = error_of(exc)
    assert code == "ValidationError" and "\u2603" not in message and "Snowman" not in message

    created = admin.create_login_profile(
        UserName="alice", Password=TEMPORARY, PasswordResetRequired=True
    )["LoginProfile"]
    assert created["UserName"] == "alice" and created["PasswordResetRequired"] is True
    with pytest.raises(ClientError) as exc:
        admin.create_login_profile(UserName="alice", Password=TEMPORARY)
    assert error_of(exc) == ("EntityAlreadyExists", "Login Profile for user alice already exists.")
    with pytest.raises(ClientError) as exc:
        admin.get_login_profile(UserName="bob")
    assert error_of(exc) == ("NoSuchEntity", "Login Profile for User bob cannot be found.")

    # alice changes her own password with her access key.
    with pytest.raises(ClientError) as exc:
        alice.change_password(OldPassword="not-my-password", NewPassword=CHOSEN)
    assert error_of(exc) == ("AccessDenied", "The old password is incorrect.")
    with pytest.raises(ClientError) as exc:
        alice.change_password(OldPassword=TEMPORARY, NewPassword="alllowercase-but-long")
    code, message = error_of(exc)
    assert code == "PasswordPolicyViolation" and "uppercase letter" in message
    with pytest.raises(ClientError) as exc:
        alice.change_password(OldPassword=TEMPORARY, NewPassword=TEMPORARY)
    assert "last 3 passwords" in error_of(exc)[1]
    alice.change_password(OldPassword=TEMPORARY, NewPassword=CHOSEN)
    mine = alice.get_login_profile()["LoginProfile"]
    assert mine["UserName"] == "alice" and mine["PasswordResetRequired"] is False

    # Only her own: setting anyone's password (hers included) is an admin's operation.
    admin.create_login_profile(UserName="bob", Password=TEMPORARY)
    for target in ("bob", "alice"):
        with pytest.raises(ClientError) as exc:
            alice.update_login_profile(UserName=target, Password="Hijacked-Password-1")
        code, message = error_of(exc)
        assert code == "AccessDenied"
        assert message.startswith(
            f"User: arn:aws:iam::{acct}:user/alice is not authorized to perform: "
            f"iam:UpdateLoginProfile on resource: arn:aws:iam::{acct}:user/{target}"
        )
    with pytest.raises(ClientError) as exc:
        alice.delete_login_profile(UserName="bob")
    assert error_of(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        alice.update_account_password_policy(MinimumPasswordLength=6)
    assert error_of(exc)[0] == "AccessDenied"

    # Offboarding: the login profile blocks DeleteUser until it is deleted.
    with pytest.raises(ClientError) as exc:
        admin.delete_user(UserName="bob")
    assert error_of(exc) == (
        "DeleteConflict",
        "Cannot delete entity, must delete login profile first.",
    )
    admin.delete_login_profile(UserName="bob")
    admin.remove_user_from_group(GroupName="SelfService", UserName="bob")
    admin.delete_user(UserName="bob")

    admin.delete_account_password_policy()
    with pytest.raises(ClientError) as exc:
        admin.delete_account_password_policy()
    assert error_of(exc)[0] == "NoSuchEntity"
