"""A hostile member tries to freeze, exhaust or out-guess one live server (issue 10's
findings 1 to 6), all at once, while a well-behaved member keeps asking for her own things.

mallory is a SelfService member with an MFA session. Her attacks, each from its own thread:

* the freezing pattern: SimulateCustomPolicy whose Resource is ``…:user/*a*a*a*a*a*b``
  against a 200-``a`` ARN (a backtracking matcher never answered it);
* a simulation of 200 actions x 500 resources (it used to answer 46 MB at once);
* anonymous requests carrying her key id, a bogus signature and a new 2,000-character
  region each (each used to leave a derived signing key cached forever);
* wrong MFA codes for her own device through GetSessionToken;
* wrong old passwords through ChangePassword.

Each attack must get its bounded answer, the guessing must end locked out (the right code
and the right password refused afterwards), and wendy must be answered while it all runs:
a count of answers, never a timing.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.mfa import Authenticator
from support.portal import PASSWORD
from support.server import LiveServer

pytestmark = pytest.mark.slow

#: Answers wendy must get while the attacks run.
WENDY_ANSWERS = 10
FREEZES = 4
BIG_SIMULATIONS = 2
BOGUS_REGIONS = 150
MFA_GUESSES = 20
PASSWORD_GUESSES = 15


def _member(server: LiveServer, admin: Any, name: str) -> tuple[dict[str, Any], str, Any]:
    admin.create_user(UserName=name)
    admin.add_user_to_group(GroupName="SelfService", UserName=name)
    admin.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=False)
    key = admin.create_access_key(UserName=name)["AccessKey"]
    device = admin.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    app = Authenticator(device["Base32StringSeed"].decode())
    admin.enable_mfa_device(
        UserName=name, SerialNumber=device["SerialNumber"], **app.enable_codes()
    )
    return key, device["SerialNumber"], app


def _code(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as err:
        return str(err.response["Error"]["Code"])
    return "OK"


def _wrong_code(app: Authenticator) -> str:
    """A code that no step near now has: a guess that cannot be right by chance."""
    step = int(datetime.now(UTC).timestamp()) // 30
    near = {app.code(s) for s in range(step - 3, step + 4)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


def _bogus_signed(server: LiveServer, key_id: str, region: str) -> tuple[int, bytes]:
    now = datetime.now(UTC)
    day, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    request = urllib.request.Request(
        server.endpoint,
        data=b"Action=GetUser&Version=2010-05-08",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Amz-Date": stamp,
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={key_id}/{day}/{region}/iam/aws4_request, "
                f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
            ),
        },
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_hostile_member_cannot_freeze_exhaust_or_out_guess(server: LiveServer) -> None:
    admin = server.client()
    key, serial, app = _member(server, admin, "mallory")
    wendy_key, _, _ = _member(server, admin, "wendy")
    long_iam = server.client(key["AccessKeyId"], key["SecretAccessKey"])
    long_sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], "sts")
    creds = long_sts.get_session_token(SerialNumber=serial, TokenCode=app.next_code())[
        "Credentials"
    ]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"])
    account = server.account_id
    wrong_code = _wrong_code(app)
    problems: list[str] = []

    def freeze() -> None:
        iam = server.client(*session, token=creds["SessionToken"])
        policy = {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "iam:GetUser",
                "Resource": "arn:aws:iam::*:user/*a*a*a*a*a*b",
            },
        }
        for _ in range(FREEZES):
            result = iam.simulate_custom_policy(
                PolicyInputList=[json.dumps(policy)],
                ActionNames=["iam:GetUser"],
                ResourceArns=[f"arn:aws:iam::{account}:user/{'a' * 200}"],
            )["EvaluationResults"][0]
            if result["EvalDecision"] != "implicitDeny":
                problems.append(f"freeze: {result['EvalDecision']}")

    def big_simulation() -> None:
        iam = server.client(*session, token=creds["SessionToken"])
        for _ in range(BIG_SIMULATIONS):
            page = iam.simulate_custom_policy(
                PolicyInputList=[
                    json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
                        }
                    )
                ],
                ActionNames=[f"iam:GetUser{n}" for n in range(200)],
                ResourceArns=[f"arn:aws:iam::{account}:user/u{n}" for n in range(500)],
            )
            if not page["IsTruncated"] or len(page["EvaluationResults"]) > 100:
                problems.append(f"simulation: {len(page['EvaluationResults'])} results")

    def bogus_regions() -> None:
        for n in range(BOGUS_REGIONS):
            status, body = _bogus_signed(server, key["AccessKeyId"], f"r{n:04d}" + "x" * 2000)
            if status != 403 or b"SignatureDoesNotMatch" not in body:
                problems.append(f"region: {status} {body[:80]!r}")

    def guess_codes() -> None:
        for _ in range(MFA_GUESSES):
            got = _code(
                lambda: long_sts.get_session_token(SerialNumber=serial, TokenCode=wrong_code)
            )
            if got != "AccessDenied":
                problems.append(f"mfa guess: {got}")

    def guess_passwords() -> None:
        for n in range(PASSWORD_GUESSES):
            got = _code(
                lambda n=n: long_iam.change_password(
                    OldPassword=f"not-{n}-{PASSWORD}", NewPassword=PASSWORD + "x"
                )
            )
            if got not in ("AccessDenied", "EntityTemporarilyUnmodifiable"):
                problems.append(f"password guess: {got}")

    threads = [
        threading.Thread(target=attack)
        for attack in (freeze, big_simulation, bogus_regions, guess_codes, guess_passwords)
    ]
    for thread in threads:
        thread.start()
    wendy = server.client(wendy_key["AccessKeyId"], wendy_key["SecretAccessKey"])
    answered = 0
    try:
        while any(thread.is_alive() for thread in threads):
            assert wendy.get_user()["User"]["UserName"] == "wendy"
            answered += 1
    finally:
        for thread in threads:
            thread.join()

    assert problems == []
    assert answered >= WENDY_ANSWERS
    # The guessing ended locked out: the right code and the right password are refused.
    right = _code(
        lambda: long_sts.get_session_token(SerialNumber=serial, TokenCode=app.next_code())
    )
    assert right == "AccessDenied"
    locked = _code(
        lambda: long_iam.change_password(OldPassword=PASSWORD, NewPassword=PASSWORD + "x")
    )
    assert locked == "EntityTemporarilyUnmodifiable"
    # wendy's own device and password were never counted against.
    assert wendy.get_user()["User"]["UserName"] == "wendy"
