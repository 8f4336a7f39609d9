"""Secret checks are throttled over the wire: boto3 against a live server, on SQLite and
on PostgreSQL (see conftest.py). Counting, not timing: the right secret is refused
after the wrong ones, however fast they came."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.mfa import Authenticator
from support.server import LiveServer

pytestmark = pytest.mark.slow

BAD_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."
PASSWORD = "Initial-Passw0rd!"
OWN = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "iam:CreateVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:ChangePassword",
                ],
                "Resource": [
                    "arn:aws:iam::*:mfa/${aws:username}",
                    "arn:aws:iam::*:user/${aws:username}",
                ],
            }
        ],
    }
)


def member(server: LiveServer, name: str) -> tuple[Any, Any]:
    """``name`` with a password, OWN and an access key: their IAM and STS clients."""
    admin = server.client()
    admin.create_user(UserName=name)
    admin.create_login_profile(UserName=name, Password=PASSWORD)
    admin.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=OWN)
    key = admin.create_access_key(UserName=name)["AccessKey"]
    args = (key["AccessKeyId"], key["SecretAccessKey"])
    return server.client(*args), server.client(*args, "sts")


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_300_wrong_codes_leave_the_right_code_refused(server: LiveServer) -> None:
    iam, sts = member(server, "tess")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="tess")["VirtualMFADevice"]
    serial = device["SerialNumber"]
    app = Authenticator(device["Base32StringSeed"].decode())
    iam.enable_mfa_device(UserName="tess", SerialNumber=serial, **app.enable_codes())
    near = {app.code(app.step + k) for k in range(-4, 8)}  # valid while the test runs
    wrong = [c for c in (f"{n:06d}" for n in range(400)) if c not in near][:300]
    refused = 0
    for code in wrong:
        with pytest.raises(ClientError) as exc:
            sts.get_session_token(SerialNumber=serial, TokenCode=code)
        assert error_of(exc) == ("AccessDenied", BAD_CODE, 403)
        refused += 1
    assert refused == 300
    with pytest.raises(ClientError) as exc:
        sts.get_session_token(SerialNumber=serial, TokenCode=app.next_code())
    assert error_of(exc) == ("AccessDenied", BAD_CODE, 403)  # locked: no oracle


def test_change_password_is_throttled(server: LiveServer) -> None:
    iam, _ = member(server, "cara")
    for _ in range(5):
        with pytest.raises(ClientError) as exc:
            iam.change_password(OldPassword="a-guess", NewPassword="Another-Passw0rd!")
        assert error_of(exc) == ("AccessDenied", "The old password is incorrect.", 403)
    with pytest.raises(ClientError) as exc:
        iam.change_password(OldPassword=PASSWORD, NewPassword="Another-Passw0rd!")
    code, message, status = error_of(exc)
    assert (code, status) == ("EntityTemporarilyUnmodifiable", 409)
    assert "cara" in message
