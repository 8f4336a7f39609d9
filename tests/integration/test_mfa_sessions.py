"""Virtual MFA and session credentials over HTTP with boto3, with real TOTP codes.

Runs once on SQLite and once on PostgreSQL (see conftest.py). Expiry itself is
tested at service level with a settable clock; here the Expiration is checked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.mfa import Authenticator
from support.server import LiveServer

pytestmark = pytest.mark.slow

INVALID = "The security token included in the request is invalid."
BAD_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."

#: Manage her own MFA device; list users only when signed in with MFA.
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"],
                "Resource": "arn:aws:iam::*:mfa/${aws:username}",
            },
            {
                "Effect": "Allow",
                "Action": ["iam:EnableMFADevice", "iam:ListMFADevices", "iam:GetUser"],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
            {
                "Effect": "Allow",
                "Action": "iam:ListUsers",
                "Resource": "*",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            },
        ],
    }
)


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def enrol(server: LiveServer, name: str) -> tuple[dict[str, Any], str, Authenticator]:
    """Create ``name`` with POLICY and a key; they create and enable their own virtual device."""
    admin = server.client()
    admin.create_user(UserName=name)
    admin.put_user_policy(UserName=name, PolicyName="mfa", PolicyDocument=POLICY)
    key = admin.create_access_key(UserName=name)["AccessKey"]
    own = server.client(key["AccessKeyId"], key["SecretAccessKey"])
    device = own.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    serial = device["SerialNumber"]
    assert serial == f"arn:aws:iam::{server.account_id}:mfa/{name}"
    assert device["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    app = Authenticator(device["Base32StringSeed"].decode())
    own.enable_mfa_device(UserName=name, SerialNumber=serial, **app.enable_codes())
    assert [d["SerialNumber"] for d in own.list_mfa_devices()["MFADevices"]] == [serial]
    return key, serial, app


def session_clients(server: LiveServer, creds: dict[str, Any]) -> tuple[Any, Any]:
    args = (creds["AccessKeyId"], creds["SecretAccessKey"])
    return (
        server.client(*args, token=creds["SessionToken"]),
        server.client(*args, "sts", token=creds["SessionToken"]),
    )


def test_mfa_session_end_to_end(server: LiveServer) -> None:
    acct = server.account_id
    key, serial, app = enrol(server, "mia")
    mia_arn = f"arn:aws:iam::{acct}:user/mia"
    long_iam = server.client(key["AccessKeyId"], key["SecretAccessKey"])
    long_sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], "sts")

    # Her long-term key carries no MFA: the MFA-gated action is refused.
    with pytest.raises(ClientError) as exc:
        long_iam.list_users()
    assert error_of(exc) == (
        "AccessDenied",
        f"User: {mia_arn} is not authorized to perform: iam:ListUsers on resource: "
        f"arn:aws:iam::{acct}:user/ because no identity-based policy allows the "
        "iam:ListUsers action",
    )

    # A wrong code gets no session.
    good = app.next_code()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with pytest.raises(ClientError) as exc:
        long_sts.get_session_token(SerialNumber=serial, TokenCode=wrong)
    assert error_of(exc) == ("AccessDenied", BAD_CODE)

    before = datetime.now(UTC)
    creds = long_sts.get_session_token(DurationSeconds=900, SerialNumber=serial, TokenCode=good)[
        "Credentials"
    ]
    after = datetime.now(UTC)
    assert creds["AccessKeyId"].startswith("ASIA")
    expiration = creds["Expiration"]
    slack = timedelta(seconds=2)
    assert before + timedelta(seconds=900) - slack <= expiration <= after + timedelta(seconds=900)

    # The same code again is a replay.
    with pytest.raises(ClientError) as exc:
        long_sts.get_session_token(SerialNumber=serial, TokenCode=good)
    assert error_of(exc) == ("AccessDenied", BAD_CODE)

    iam, sts = session_clients(server, creds)
    identity = sts.get_caller_identity()
    assert identity["Arn"] == mia_arn and identity["Account"] == acct
    assert "mia" in {u["UserName"] for u in iam.list_users()["Users"]}

    # Session credentials cannot get another session.
    with pytest.raises(ClientError) as exc:
        sts.get_session_token()
    assert error_of(exc) == ("AccessDenied", "Cannot call GetSessionToken with session credentials")

    # A session without MFA: STS answers, IAM does not know the token (as AWS).
    plain = long_sts.get_session_token()["Credentials"]
    plain_iam, plain_sts = session_clients(server, plain)
    assert plain_sts.get_caller_identity()["Arn"] == mia_arn
    assert plain["Expiration"] >= after + timedelta(seconds=43200) - slack
    with pytest.raises(ClientError) as exc:
        plain_iam.get_user()
    assert error_of(exc) == ("InvalidClientTokenId", INVALID)

    # A token that is not the session's, or none at all, is refused.
    forged = server.client(
        creds["AccessKeyId"], creds["SecretAccessKey"], "sts", token=plain["SessionToken"]
    )
    with pytest.raises(ClientError) as exc:
        forged.get_caller_identity()
    assert error_of(exc) == ("InvalidClientTokenId", INVALID)
    tokenless = server.client(creds["AccessKeyId"], creds["SecretAccessKey"], "sts")
    with pytest.raises(ClientError) as exc:
        tokenless.get_caller_identity()
    assert error_of(exc) == ("InvalidClientTokenId", INVALID)


def test_the_session_dies_when_the_user_is_deleted(server: LiveServer) -> None:
    admin = server.client()
    key, serial, app = enrol(server, "noor")
    long_sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], "sts")
    creds = long_sts.get_session_token(SerialNumber=serial, TokenCode=app.next_code())[
        "Credentials"
    ]
    iam, sts = session_clients(server, creds)
    assert iam.get_user()["User"]["UserName"] == "noor"

    # What AWS requires before DeleteUser: no key, MFA device or inline policy left.
    admin.delete_access_key(UserName="noor", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        admin.delete_user(UserName="noor")
    assert error_of(exc) == (
        "DeleteConflict",
        "Cannot delete entity, must delete MFA device first.",
    )
    admin.deactivate_mfa_device(UserName="noor", SerialNumber=serial)
    admin.delete_virtual_mfa_device(SerialNumber=serial)
    admin.delete_user_policy(UserName="noor", PolicyName="mfa")
    assert sts.get_caller_identity()["Arn"].endswith(":user/noor")  # alive until the user goes
    admin.delete_user(UserName="noor")

    for call in (iam.get_user, sts.get_caller_identity):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == ("InvalidClientTokenId", INVALID)
