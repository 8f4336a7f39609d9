"""Passkeys as MFA devices: registration and assertion checks with synthesized responses
(a software authenticator), the IAM operations that show them, quota and authorization."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.service.conftest import ACCOUNT, Call, denied, fails, on_own_user

from selfiam.service import throttle
from selfiam.service.caller import Caller
from selfiam.service.mfa_checks import MFA, device_subject
from selfiam.service.passkeys import (
    CHALLENGE_TTL,
    PasskeyRefused,
    RelyingParty,
    authentication_options,
    check_assertion,
    new_challenge,
    registration_options,
)
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction
from support.authenticator import SoftAuthenticator
from support.clock import Clock

RP = RelyingParty(rp_id="localhost", origin="http://localhost:8000")
SERIAL = re.compile(rf"^arn:aws:iam::{ACCOUNT}:u2f/user/(\w+)/([\w+=,.@-]+)-[A-Z2-7]{{26}}$")


def _user_id(call: Call, name: str) -> str:
    return str(call("GetUser", UserName=name)["User"]["UserId"])


def _begin(runtime: Runtime, call: Call, user: str, label: str, binding: str) -> str:
    with transaction(runtime.engine) as conn:
        challenge = new_challenge(conn, binding, "register", runtime.clock(), label=label)
        return registration_options(conn, RP, _user_id(call, user), user, challenge)


def _register(
    call: Call, credential: str, user: str, binding: str, caller: Caller | None = None, **rp: str
) -> dict[str, Any]:
    return call(
        "RegisterPasskey",
        service="selfiam",
        caller=caller,
        UserName=user,
        Binding=binding,
        RpId=rp.get("rp_id", RP.rp_id),
        Origin=rp.get("origin", RP.origin),
        Credential=credential,
    )


@pytest.fixture
def enrol(runtime: Runtime, call: Call) -> Callable[..., tuple[SoftAuthenticator, str]]:
    """Register a new passkey for ``user``: (its authenticator, its serial number)."""

    def make(user: str, label: str = "yubikey") -> tuple[SoftAuthenticator, str]:
        key = SoftAuthenticator()
        options = _begin(runtime, call, user, label, f"session:{user}")
        out = _register(call, key.register(options), user, f"session:{user}")
        return key, str(out["SerialNumber"])

    return make


def _assertion_challenge(runtime: Runtime, user_id: str | None, binding: str = "s") -> str:
    with transaction(runtime.engine) as conn:
        challenge = new_challenge(conn, binding, "mfa", runtime.clock())
        return authentication_options(conn, RP, user_id, challenge)


def _check(runtime: Runtime, options: str, response: str, user_id: str | None) -> Any:
    challenge = json.loads(options)["challenge"]
    from webauthn.helpers import base64url_to_bytes

    with transaction(runtime.engine) as conn:
        try:
            return check_assertion(
                conn, response, base64url_to_bytes(challenge), RP, runtime.clock(), user_id=user_id
            )
        except PasskeyRefused as refused:
            return refused


# -- registration --------------------------------------------------------------------------


def test_a_registered_passkey_is_an_mfa_device_with_awss_serial(
    call: Call, alice: str, enrol: Any, runtime: Runtime
) -> None:
    _, serial = enrol(alice, "laptop")
    match = SERIAL.match(serial)
    assert match and match.groups() == ("alice", "laptop")
    devices = call("ListMFADevices", UserName=alice)["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [serial]
    got = call("GetMFADevice", UserName=alice, SerialNumber=serial)
    assert got["SerialNumber"] == serial and got["UserName"] == "alice"
    call("GenerateCredentialReport")  # built in the background: wait for it
    for _ in range(3000):
        if call("GenerateCredentialReport")["State"] == "COMPLETE":
            break
        time.sleep(0.01)
    report = call("GetCredentialReport")["Content"]
    text = report.decode() if isinstance(report, bytes) else report
    header, *rows = text.splitlines()
    column = header.split(",").index("mfa_active")
    assert [r.split(",")[column] for r in rows if r.startswith("alice,")] == ["true"]
    summary = call("GetAccountSummary")["SummaryMap"]
    assert summary["MFADevices"] == summary["MFADevicesInUse"] == 1
    fails("DeleteConflict", None, call, "DeleteUser", UserName=alice)
    call("DeactivateMFADevice", UserName=alice, SerialNumber=serial)  # removes it, as AWS
    assert call("ListMFADevices", UserName=alice)["MFADevices"] == []
    fails("NoSuchEntity", None, call, "GetMFADevice", UserName=alice, SerialNumber=serial)


@pytest.mark.parametrize(
    "wrong",
    [{"origin": "http://evil.example:8000"}, {"rp_id": "evil.example"}],
    ids=["origin", "rp-id"],
)
def test_registration_for_another_origin_or_rp_id_is_refused(
    call: Call, alice: str, runtime: Runtime, wrong: dict[str, str]
) -> None:
    options = _begin(runtime, call, alice, "key", "b")
    response = SoftAuthenticator().register(options, **wrong)
    fails("InvalidAuthenticationCode", None, _register, call, response, alice, "b")
    assert call("ListMFADevices", UserName=alice)["MFADevices"] == []


def test_a_registration_challenge_answers_once_even_when_refused(
    call: Call, alice: str, runtime: Runtime
) -> None:
    options = _begin(runtime, call, alice, "key", "b")
    key = SoftAuthenticator()
    bad = key.register(options, origin="http://evil.example")
    fails("InvalidAuthenticationCode", None, _register, call, bad, alice, "b")
    # The refused attempt used the challenge up: the right answer to it comes too late.
    fails("InvalidAuthenticationCode", None, _register, call, key.register(options), alice, "b")
    # And a replayed good registration is refused as well.
    options = _begin(runtime, call, alice, "key", "b")
    good = key.register(options)
    _register(call, good, alice, "b")
    fails("InvalidAuthenticationCode", None, _register, call, good, alice, "b")
    assert len(call("ListMFADevices", UserName=alice)["MFADevices"]) == 1


def test_an_expired_or_foreign_challenge_is_refused(
    call: Call, alice: str, runtime: Runtime, clock: Clock
) -> None:
    options = _begin(runtime, call, alice, "key", "b")
    clock.now += CHALLENGE_TTL
    late = SoftAuthenticator().register(options)
    fails("InvalidAuthenticationCode", None, _register, call, late, alice, "b")
    options = _begin(runtime, call, alice, "key", "session-one")
    response = SoftAuthenticator().register(options)
    fails("InvalidAuthenticationCode", None, _register, call, response, alice, "session-two")


def test_eight_mfa_devices_of_any_kind_at_most(call: Call, alice: str, enrol: Any) -> None:
    for n in range(8):
        enrol(alice, f"key{n}")
    fails(
        "LimitExceeded",
        "Cannot exceed quota for MFADevicesPerUser: 8",
        enrol,
        alice,
        "ninth",
    )
    call("CreateVirtualMFADevice", VirtualMFADeviceName="alice")
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
    fails(
        "LimitExceeded",
        None,
        call,
        "EnableMFADevice",
        UserName=alice,
        SerialNumber=serial,
        AuthenticationCode1="000000",
        AuthenticationCode2="000000",
    )


# -- assertions ----------------------------------------------------------------------------


def test_an_assertion_is_accepted_and_moves_the_counter(
    call: Call, alice: str, enrol: Any, runtime: Runtime
) -> None:
    key, serial = enrol(alice)
    uid = _user_id(call, alice)
    options = _assertion_challenge(runtime, uid)
    allowed = [c["id"] for c in json.loads(options)["allowCredentials"]]
    response = key.assert_(options)
    assert allowed == [json.loads(response)["id"]]
    row = _check(runtime, options, response, uid)
    assert row.serial_number == serial
    with read_transaction(runtime.engine) as conn:
        count = conn.execute(
            select(t.passkeys.c.sign_count).where(t.passkeys.c.serial_number == serial)
        ).scalar_one()
    assert count == key.counter == 1


@pytest.mark.parametrize(
    "wrong",
    [{"origin": "http://evil.example:8000"}, {"rp_id": "evil.example"}],
    ids=["origin", "rp-id"],
)
def test_an_assertion_for_another_origin_or_rp_id_is_refused(
    call: Call, alice: str, enrol: Any, runtime: Runtime, wrong: dict[str, str]
) -> None:
    key, _ = enrol(alice)
    uid = _user_id(call, alice)
    options = _assertion_challenge(runtime, uid)
    refused = _check(runtime, options, key.assert_(options, **wrong), uid)
    assert isinstance(refused, PasskeyRefused) and not refused.unknown


def test_a_replayed_assertion_is_refused(
    call: Call, alice: str, enrol: Any, runtime: Runtime
) -> None:
    key, _ = enrol(alice)
    uid = _user_id(call, alice)
    options = _assertion_challenge(runtime, uid)
    response = key.assert_(options)
    assert not isinstance(_check(runtime, options, response, uid), PasskeyRefused)
    # The same response again, against the next challenge: its signature names the old one.
    fresh = _assertion_challenge(runtime, uid)
    assert isinstance(_check(runtime, fresh, response, uid), PasskeyRefused)


def test_a_counter_that_goes_back_is_refused_and_counted(
    call: Call, alice: str, enrol: Any, runtime: Runtime
) -> None:
    key, serial = enrol(alice)
    uid = _user_id(call, alice)
    for _ in range(3):
        options = _assertion_challenge(runtime, uid)
        assert not isinstance(_check(runtime, options, key.assert_(options), uid), PasskeyRefused)
    options = _assertion_challenge(runtime, uid)
    cloned = key.assert_(options, counter=2)  # a copy of the key, one use behind
    refused = _check(runtime, options, cloned, uid)
    assert isinstance(refused, PasskeyRefused) and refused.regression
    with transaction(runtime.engine) as conn:
        state = throttle.load(conn, device_subject(serial), runtime.clock())
    assert state.failures == 1


def test_a_credential_of_another_user_is_refused(
    call: Call, alice: str, enrol: Any, runtime: Runtime
) -> None:
    call("CreateUser", UserName="bob")
    bobs_key, _ = enrol("bob")
    enrol(alice)
    uid = _user_id(call, alice)
    options = _assertion_challenge(runtime, uid)
    refused = _check(runtime, options, bobs_key.assert_(options), uid)
    assert isinstance(refused, PasskeyRefused) and refused.unknown


def test_failed_assertions_lock_the_passkey_out(
    call: Call, alice: str, enrol: Any, runtime: Runtime, clock: Clock
) -> None:
    key, _ = enrol(alice)
    uid = _user_id(call, alice)
    for _ in range(MFA.max_failures):
        options = _assertion_challenge(runtime, uid)
        refused = _check(runtime, options, key.assert_(options, origin="http://evil"), uid)
        assert isinstance(refused, PasskeyRefused) and not refused.locked
    options = _assertion_challenge(runtime, uid)
    refused = _check(runtime, options, key.assert_(options), uid)
    assert isinstance(refused, PasskeyRefused) and refused.locked
    clock.now += MFA.first_lockout + timedelta(seconds=1)
    options = _assertion_challenge(runtime, uid)
    assert not isinstance(_check(runtime, options, key.assert_(options), uid), PasskeyRefused)


# -- authorization -------------------------------------------------------------------------


def test_a_member_adds_and_removes_only_their_own_passkey(
    call: Call, alice: str, enrol: Any, runtime: Runtime, caller_for: Any
) -> None:
    call("CreateUser", UserName="bob")
    policy = on_own_user(["iam:EnableMFADevice", "iam:DeactivateMFADevice", "iam:ListMFADevices"])
    for user in ("alice", "bob"):
        call("PutUserPolicy", UserName=user, PolicyName="own", PolicyDocument=policy)
    alice_caller = caller_for("alice")
    _, bobs = enrol("bob")
    options = _begin(runtime, call, alice, "mine", "a")
    _register(call, SoftAuthenticator().register(options), alice, "a", caller=alice_caller)
    # A passkey for bob, made in alice's session: the engine refuses it.
    options = _begin(runtime, call, alice, "forged", "a")
    fails(
        "AccessDenied",
        denied("alice", "iam:EnableMFADevice", f"arn:aws:iam::{ACCOUNT}:user/bob"),
        _register,
        call,
        SoftAuthenticator().register(options),
        "bob",
        "a",
        caller=alice_caller,
    )
    fails(
        "AccessDenied",
        denied("alice", "iam:DeactivateMFADevice", f"arn:aws:iam::{ACCOUNT}:user/bob"),
        call,
        "DeactivateMFADevice",
        caller=alice_caller,
        UserName="bob",
        SerialNumber=bobs,
    )
    assert len(call("ListMFADevices", UserName="bob")["MFADevices"]) == 1
    # Naming bob's serial under her own user name finds nothing of hers.
    fails(
        "NoSuchEntity",
        "MFA Device invalid for user.",
        call,
        "DeactivateMFADevice",
        caller=alice_caller,
        UserName="alice",
        SerialNumber=bobs,
    )


def test_only_an_admin_turns_passwordless_sign_in_on(
    call: Call, alice: str, caller_for: Any
) -> None:
    assert call("GetAccountSignInSettings", service="selfiam") == {"PasswordlessSignIn": False}
    call("PutUserPolicy", UserName=alice, PolicyName="ro", PolicyDocument=on_own_user(["iam:*"]))
    fails(
        "AccessDenied",
        None,
        call,
        "UpdateAccountSignInSettings",
        service="selfiam",
        caller=caller_for(alice),
        PasswordlessSignIn=True,
    )
    fails("ValidationError", None, call, "UpdateAccountSignInSettings", service="selfiam")
    call("UpdateAccountSignInSettings", service="selfiam", PasswordlessSignIn=True)
    assert call("GetAccountSignInSettings", service="selfiam") == {"PasswordlessSignIn": True}


def test_offboarding_removes_the_users_passkeys(
    call: Call, alice: str, enrol: Any, runtime: Runtime
) -> None:
    from selfiam.service.offboarding import plan_offboarding

    _, serial = enrol(alice)
    plan = plan_offboarding(runtime, Caller.root(ACCOUNT), alice)
    assert plan.passkeys == (serial,)
    call("OffboardUser", service="selfiam", UserName=alice)
    with read_transaction(runtime.engine) as conn:
        assert conn.execute(select(t.passkeys)).all() == []


def test_expired_challenges_are_pruned_a_few_at_a_time(runtime: Runtime, clock: Clock) -> None:
    from selfiam.service.passkeys import PRUNE_BATCH

    with transaction(runtime.engine) as conn:
        for n in range(PRUNE_BATCH + 3):
            new_challenge(conn, f"signin:{n}", "passwordless", clock())
    clock.now += CHALLENGE_TTL
    with transaction(runtime.engine) as conn:
        new_challenge(conn, "signin:fresh", "passwordless", clock())
    with read_transaction(runtime.engine) as conn:
        left = conn.execute(select(t.webauthn_challenges.c.binding)).scalars().all()
    assert len(left) == 3 + 1 and "signin:fresh" in left
