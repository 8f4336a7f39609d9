"""GetSessionToken and temporary credentials: storage, authentication, expiry, MFA facts."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select
from tests.service.conftest import ACCOUNT, Call, Clock, fails

from selfiam.auth.sigv4 import derive_signing_key
from selfiam.domain.identifiers import new_request_id
from selfiam.service.authz import request_context
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction

STS = ("20261127", "us-east-1", "sts")
IAM = ("20261127", "us-east-1", "iam")
INVALID = "The security token included in the request is invalid."
EXPIRED = "The security token included in the request is expired"
BAD_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."
UNKNOWN_DEVICE = (
    "MultiFactorAuthentication failed, unable to validate MFA code.  "
    "Please verify your MFA serial number is valid and associated with this user."
)
ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"


class Alice:
    """alice with a long-term key and an enabled virtual MFA device."""

    def __init__(self, call: Call, runtime: Runtime, clock: Clock) -> None:
        self.call, self.runtime, self.clock = call, runtime, clock
        call("CreateUser", UserName="alice")
        key = call("CreateAccessKey", UserName="alice")["AccessKey"]
        self.key_id = key["AccessKeyId"]
        device = call("CreateVirtualMFADevice", VirtualMFADeviceName="alice")["VirtualMFADevice"]
        self.serial = device["SerialNumber"]
        self.app = pyotp.TOTP(device["Base32StringSeed"].decode())
        call(
            "EnableMFADevice",
            UserName="alice",
            SerialNumber=self.serial,
            AuthenticationCode1=self.app.at(clock() - timedelta(seconds=30)),
            AuthenticationCode2=self.app.at(clock()),
        )
        self.clock.now += timedelta(seconds=30)  # past the codes enabling used

    @property
    def long_term(self) -> Caller:
        return self.runtime.authenticate_access_key(self.key_id, STS)[0]

    def code(self) -> str:
        return self.app.at(self.clock())

    def session(self, caller: Caller | None = None, **params: Any) -> dict[str, Any]:
        out = self.call("GetSessionToken", service="sts", caller=caller or self.long_term, **params)
        creds: dict[str, Any] = out["Credentials"]
        return creds

    def mfa_session(self, **params: Any) -> dict[str, Any]:
        return self.session(SerialNumber=self.serial, TokenCode=self.code(), **params)

    def caller(self, creds: dict[str, Any], scope: tuple[str, str, str] = IAM) -> Caller:
        return self.runtime.authenticate_access_key(
            creds["AccessKeyId"], scope, session_token=creds["SessionToken"]
        )[0]


@pytest.fixture
def alice(call: Call, runtime: Runtime, clock: Clock) -> Alice:
    return Alice(call, runtime, clock)


def info(runtime: Runtime) -> RequestInfo:
    return RequestInfo(request_id=new_request_id(), now=runtime.clock())


# -- GetSessionToken ----------------------------------------------------------------------


def test_credentials_shape_and_default_duration(alice: Alice, clock: Clock) -> None:
    creds = alice.session()
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert len(creds["SessionToken"]) >= 200
    assert creds["Expiration"] == clock() + timedelta(seconds=43200)
    short = alice.session(DurationSeconds=900)
    assert short["Expiration"] == clock() + timedelta(seconds=900)


def test_only_a_digest_and_a_sealed_secret_are_stored(alice: Alice, runtime: Runtime) -> None:
    creds = alice.session()
    with read_transaction(runtime.engine) as conn:
        row = conn.execute(
            select(t.sts_sessions).where(t.sts_sessions.c.access_key_id == creds["AccessKeyId"])
        ).one()
    assert row.session_token_sha256 == hashlib.sha256(creds["SessionToken"].encode()).hexdigest()
    assert creds["SecretAccessKey"].encode() not in row.secret_ciphertext
    opened = runtime.box.open(row.secret_ciphertext, creds["AccessKeyId"].encode())
    assert opened == creds["SecretAccessKey"].encode()
    assert row.mfa_authenticated_at is None and row.mfa_serial_number is None


def test_session_credentials_authenticate_as_the_user(alice: Alice, call: Call) -> None:
    creds = alice.session()
    caller, signing_key = alice.runtime.authenticate_access_key(
        creds["AccessKeyId"], STS, session_token=creds["SessionToken"]
    )
    assert signing_key == derive_signing_key(creds["SecretAccessKey"], *STS)
    assert caller.is_temporary and caller.arn == ALICE_ARN
    assert caller.mfa_authenticated_at is None
    identity = call("GetCallerIdentity", service="sts", caller=caller)
    assert identity["Arn"] == ALICE_ARN and identity["Account"] == ACCOUNT


def test_token_mismatches_are_invalid(alice: Alice, runtime: Runtime) -> None:
    creds = alice.session()
    other = alice.session()
    key_id, token = creds["AccessKeyId"], creds["SessionToken"]
    auth = runtime.authenticate_access_key
    fails("InvalidClientTokenId", INVALID, auth, key_id, STS)  # ASIA without a token
    fails("InvalidClientTokenId", INVALID, auth, key_id, STS, session_token=other["SessionToken"])
    fails("InvalidClientTokenId", INVALID, auth, key_id, STS, session_token=token[:-4] + "AAAA")
    fails("InvalidClientTokenId", INVALID, auth, alice.key_id, STS, session_token=token)
    fails("InvalidClientTokenId", INVALID, auth, "ASIAAAAAAAAAAAAAAAAA", STS, session_token=token)
    auth(key_id, STS, session_token=token)  # still fine


def test_session_credentials_cannot_get_another_session(alice: Alice) -> None:
    for creds in (alice.session(), alice.mfa_session()):
        fails(
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
            alice.session,
            caller=alice.caller(creds, STS),
        )


def test_no_policy_is_needed_or_can_deny(alice: Alice, call: Call) -> None:
    deny_all = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    )
    call("PutUserPolicy", UserName="alice", PolicyName="deny", PolicyDocument=deny_all)
    assert alice.session()["AccessKeyId"].startswith("ASIA")


def test_the_root_gets_no_session(call: Call) -> None:
    fails("AccessDenied", None, call, "GetSessionToken", service="sts")


# -- expiry -------------------------------------------------------------------------------


def test_expiry_is_checked_on_every_request(alice: Alice, clock: Clock, runtime: Runtime) -> None:
    creds = alice.session(DurationSeconds=900)
    alice.caller(creds, STS)  # cached from here on
    clock.now += timedelta(seconds=899)
    alice.caller(creds, STS)
    clock.now += timedelta(seconds=1)
    fails("ExpiredToken", EXPIRED, alice.caller, creds, STS)
    fails("ExpiredToken", EXPIRED, alice.caller, creds, STS)


def test_expired_sessions_are_dropped_when_the_user_gets_a_new_one(
    alice: Alice, clock: Clock, runtime: Runtime
) -> None:
    alice.session(DurationSeconds=900)
    alice.session(DurationSeconds=3600)
    clock.now += timedelta(seconds=1000)
    alice.session()
    with read_transaction(runtime.engine) as conn:
        count = conn.execute(select(func.count()).select_from(t.sts_sessions)).scalar_one()
    assert count == 2


# -- MFA ----------------------------------------------------------------------------------


def test_mfa_session_carries_the_mfa_facts(alice: Alice, clock: Clock, runtime: Runtime) -> None:
    started = clock()
    creds = alice.mfa_session()
    caller = alice.caller(creds)
    assert caller.mfa_authenticated_at == started
    clock.now += timedelta(seconds=100)
    context = request_context(caller, info(runtime))
    assert context.get("aws:MultiFactorAuthPresent") == ("true",)
    assert context.get("aws:MultiFactorAuthAge") == ("100",)


def test_sessions_without_mfa_say_so_and_long_term_keys_say_nothing(
    alice: Alice, runtime: Runtime
) -> None:
    plain = request_context(alice.caller(alice.session(), STS), info(runtime))
    assert plain.get("aws:MultiFactorAuthPresent") == ("false",)
    assert plain.get("aws:MultiFactorAuthAge") is None
    long_term = request_context(alice.long_term, info(runtime))
    assert long_term.get("aws:MultiFactorAuthPresent") is None
    assert long_term.get("aws:MultiFactorAuthAge") is None


def test_wrong_or_replayed_codes_are_refused(alice: Alice, call: Call, clock: Clock) -> None:
    code = alice.code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    fails("AccessDenied", BAD_CODE, alice.session, SerialNumber=alice.serial, TokenCode=wrong)
    alice.session(SerialNumber=alice.serial, TokenCode=code)
    fails("AccessDenied", BAD_CODE, alice.session, SerialNumber=alice.serial, TokenCode=code)
    clock.now += timedelta(seconds=30)
    alice.mfa_session()


def test_only_the_users_own_enabled_device_counts(alice: Alice, call: Call, clock: Clock) -> None:
    call("CreateUser", UserName="bob")
    bobs = call("CreateVirtualMFADevice", VirtualMFADeviceName="bob")["VirtualMFADevice"]
    app = pyotp.TOTP(bobs["Base32StringSeed"].decode())
    call(
        "EnableMFADevice",
        UserName="bob",
        SerialNumber=bobs["SerialNumber"],
        AuthenticationCode1=app.at(clock() - timedelta(seconds=30)),
        AuthenticationCode2=app.at(clock()),
    )
    clock.now += timedelta(seconds=30)
    for serial in (bobs["SerialNumber"], f"arn:aws:iam::{ACCOUNT}:mfa/ghost"):
        fails(
            "AccessDenied",
            UNKNOWN_DEVICE,
            alice.session,
            SerialNumber=serial,
            TokenCode=app.at(clock()),
        )
    call("DeactivateMFADevice", UserName="alice", SerialNumber=alice.serial)
    fails("AccessDenied", UNKNOWN_DEVICE, alice.mfa_session)


def test_a_token_code_needs_its_serial_number(alice: Alice) -> None:
    fails("ValidationError", None, alice.session, TokenCode=alice.code())
    fails("AccessDenied", BAD_CODE, alice.session, SerialNumber=alice.serial)


def test_iam_refuses_sessions_without_mfa(alice: Alice, call: Call) -> None:
    plain = alice.caller(alice.session(), IAM)
    fails("InvalidClientTokenId", INVALID, call, "GetUser", caller=plain)
    assert call("GetCallerIdentity", service="sts", caller=plain)["Arn"] == ALICE_ARN
    mfa = alice.caller(alice.mfa_session(), IAM)
    call("PutUserPolicy", UserName="alice", PolicyName="read", PolicyDocument=_allow("iam:GetUser"))
    assert call("GetUser", caller=mfa)["User"]["UserName"] == "alice"


def _allow(action: str, condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_a_policy_requiring_mfa_allows_only_mfa_sessions(alice: Alice, call: Call) -> None:
    require = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    call(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="mfa",
        PolicyDocument=_allow("iam:ListUsers", require),
    )
    fails(
        "AccessDenied",
        f"User: {ALICE_ARN} is not authorized to perform: iam:ListUsers on resource: "
        f"arn:aws:iam::{ACCOUNT}:user/ because no identity-based policy allows the "
        "iam:ListUsers action",
        call,
        "ListUsers",
        caller=alice.long_term,
    )
    listed = call("ListUsers", caller=alice.caller(alice.mfa_session()))["Users"]
    assert [u["UserName"] for u in listed] == ["alice"]


def test_a_deny_if_no_mfa_blocks_long_term_keys(alice: Alice, call: Call) -> None:
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "iam:ListUsers",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
        ],
    }
    call("PutUserPolicy", UserName="alice", PolicyName="deny", PolicyDocument=json.dumps(deny))
    error = fails("AccessDenied", None, call, "ListUsers", caller=alice.long_term)
    assert error.message.endswith("with an explicit deny in an identity-based policy")
    call("ListUsers", caller=alice.caller(alice.mfa_session()))


# -- offboarding --------------------------------------------------------------------------


def test_a_deleted_users_sessions_die_at_once(alice: Alice, call: Call) -> None:
    creds = alice.mfa_session()
    alice.caller(creds)  # in the cache now
    call("DeactivateMFADevice", UserName="alice", SerialNumber=alice.serial)
    call("DeleteAccessKey", UserName="alice", AccessKeyId=alice.key_id)
    alice.caller(creds)  # deactivating the device does not end sessions, as in AWS
    call("DeleteUser", UserName="alice")
    fails("InvalidClientTokenId", INVALID, alice.caller, creds)
    with read_transaction(alice.runtime.engine) as conn:
        left = conn.execute(select(func.count()).select_from(t.sts_sessions)).scalar_one()
    assert left == 0
