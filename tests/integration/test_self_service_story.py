"""The seed's story, end to end: boto3 over HTTP against a live selfiam server.

alice manages her keys from an MFA session (GetSessionToken with a code from
the virtual MFA device she enrols herself), as SelfServiceCredentials requires.

Runs once on SQLite and once on PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import json
import time

import pyotp
import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer

pytestmark = pytest.mark.slow


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def denied(account: str, user: str, action: str, resource: str) -> str:
    return (
        f"User: arn:aws:iam::{account}:user/{user} is not authorized to perform: {action} "
        f"on resource: {resource} because no identity-based policy allows the {action} action"
    )


def test_self_service_story(server: LiveServer) -> None:
    admin = server.client()
    acct = server.account_id

    # The admin creates alice and bob in SelfService and gives each an access key.
    keys = {}
    for name in ("alice", "bob"):
        admin.create_user(UserName=name)
        admin.add_user_to_group(GroupName="SelfService", UserName=name)
        keys[name] = admin.create_access_key(UserName=name)["AccessKey"]
    alice_key = server.client(keys["alice"]["AccessKeyId"], keys["alice"]["SecretAccessKey"])
    sts_alice = server.client(keys["alice"]["AccessKeyId"], keys["alice"]["SecretAccessKey"], "sts")

    identity = sts_alice.get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{acct}:user/alice"
    assert identity["Account"] == acct

    # With her long-term key alone (no MFA) she may read IAM and set up MFA, but not
    # manage her keys: SelfServiceCredentials denies that without MFA.
    with pytest.raises(ClientError) as exc:
        alice_key.create_access_key()
    assert error_of(exc) == (
        "AccessDenied",
        f"User: arn:aws:iam::{acct}:user/alice is not authorized to perform: "
        f"iam:CreateAccessKey on resource: arn:aws:iam::{acct}:user/alice "
        "with an explicit deny in an identity-based policy",
    )

    # She enrols her virtual MFA device and signs in with it (GetSessionToken).
    device = alice_key.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]
    serial = device["SerialNumber"]
    app = pyotp.TOTP(device["Base32StringSeed"].decode())
    step = int(time.time()) // 30
    alice_key.enable_mfa_device(
        UserName="alice",
        SerialNumber=serial,
        AuthenticationCode1=app.at((step - 1) * 30),
        AuthenticationCode2=app.at(step * 30),
    )
    # The next step's code: never the one enabling used up (the server allows one step ahead).
    next_step = max(step + 1, int(time.time()) // 30)
    session = sts_alice.get_session_token(SerialNumber=serial, TokenCode=app.at(next_step * 30))
    creds = session["Credentials"]
    alice = server.client(
        creds["AccessKeyId"], creds["SecretAccessKey"], token=creds["SessionToken"]
    )

    # alice can see the directory, read-only.
    names = {u["UserName"] for u in alice.list_users()["Users"]}
    assert {"admin", "alice", "bob"} <= names
    assert "SelfService" in {g["GroupName"] for g in alice.list_groups()["Groups"]}
    assert alice.get_user()["User"]["UserName"] == "alice"

    # She creates her second key, and is refused a third.
    second = alice.create_access_key()["AccessKey"]
    assert second["UserName"] == "alice"
    with pytest.raises(ClientError) as exc:
        alice.create_access_key()
    assert error_of(exc) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")

    # She cannot touch anything that is not her own credentials, MFA or not.
    with pytest.raises(ClientError) as exc:
        alice.create_access_key(UserName="bob")
    assert error_of(exc) == (
        "AccessDenied",
        denied(acct, "alice", "iam:CreateAccessKey", f"arn:aws:iam::{acct}:user/bob"),
    )
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as exc:
        alice.put_user_policy(
            UserName="alice",
            PolicyName="escalate",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
    assert error_of(exc) == (
        "AccessDenied",
        denied(acct, "alice", "iam:PutUserPolicy", f"arn:aws:iam::{acct}:user/alice"),
    )
    admin.create_group(GroupName="Admins")
    with pytest.raises(ClientError) as exc:
        alice.add_user_to_group(GroupName="Admins", UserName="alice")
    assert error_of(exc) == (
        "AccessDenied",
        denied(acct, "alice", "iam:AddUserToGroup", f"arn:aws:iam::{acct}:group/Admins"),
    )
    with pytest.raises(ClientError) as exc:
        alice.attach_user_policy(
            UserName="alice", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        )
    assert error_of(exc) == (
        "AccessDenied",
        denied(acct, "alice", "iam:AttachUserPolicy", f"arn:aws:iam::{acct}:user/alice"),
    )

    # She rotates: deactivate and delete the old key; its signatures die at once.
    old_id = keys["alice"]["AccessKeyId"]
    alice2 = server.client(second["AccessKeyId"], second["SecretAccessKey"])
    assert alice2.get_user()["User"]["UserName"] == "alice"
    alice.update_access_key(AccessKeyId=old_id, Status="Inactive")
    with pytest.raises(ClientError) as exc:
        alice_key.get_user()
    assert error_of(exc)[0] == "InvalidClientTokenId"
    alice.delete_access_key(AccessKeyId=old_id)
    listed = alice2.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [second["AccessKeyId"]]
    last_used = alice2.get_access_key_last_used(AccessKeyId=second["AccessKeyId"])
    assert last_used["AccessKeyLastUsed"]["ServiceName"] == "iam"

    # The admin removes alice; her last key and her session stop working on the next request.
    assert alice2.get_user()["User"]["UserName"] == "alice"
    admin.remove_user_from_group(GroupName="SelfService", UserName="alice")
    admin.delete_access_key(UserName="alice", AccessKeyId=second["AccessKeyId"])
    admin.deactivate_mfa_device(UserName="alice", SerialNumber=serial)
    admin.delete_virtual_mfa_device(SerialNumber=serial)
    admin.delete_user(UserName="alice")
    for gone in (alice2, alice):
        with pytest.raises(ClientError) as exc:
            gone.get_user()
        assert error_of(exc)[0] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as exc:
        admin.get_user(UserName="alice")
    assert error_of(exc) == ("NoSuchEntity", "The user with name alice cannot be found.")


def test_delete_user_with_keys_is_a_conflict(server: LiveServer) -> None:
    admin = server.client()
    admin.create_user(UserName="carol")
    admin.create_access_key(UserName="carol")
    with pytest.raises(ClientError) as exc:
        admin.delete_user(UserName="carol")
    assert error_of(exc) == (
        "DeleteConflict",
        "Cannot delete entity, must delete access keys first.",
    )


def test_bad_input_gets_validation_error(server: LiveServer) -> None:
    admin = server.client()
    with pytest.raises(ClientError) as exc:
        admin.create_user(UserName="not a valid name")
    code, message = error_of(exc)
    assert code == "ValidationError"
    assert "userName" in message and "regular expression pattern" in message


def test_wrong_secret_is_refused(server: LiveServer) -> None:
    bad = server.client(server.admin_key_id, "x" * 40)
    with pytest.raises(ClientError) as exc:
        bad.get_user()
    assert error_of(exc)[0] == "SignatureDoesNotMatch"
    unknown = server.client("AKIAAAAAAAAAAAAAAAAA", "x" * 40)
    with pytest.raises(ClientError) as exc:
        unknown.get_user()
    assert error_of(exc)[0] == "InvalidClientTokenId"
