"""Every check of a secret is counted in the database (issue 10, parts 3, 5 and 6).

MFA codes per device (GetSessionToken, EnableMFADevice, ResyncMFADevice, the
portal's MFA step), in every process sharing the database; passwords per user name
and source address (the portal's sign-in and ChangePassword), under concurrency, on
SQLite and PostgreSQL. Time moves only by the test's clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select
from tests.service.conftest import ACCOUNT, Call, Clock, fails, on_own_user

from selfiam.auth.passwords import PasswordHasher
from selfiam.auth.secretbox import SecretBox
from selfiam.domain.identifiers import new_request_id
from selfiam.service import throttle
from selfiam.service.audit import read_records
from selfiam.service.bootstrap import create_account
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.mfa_checks import MFA
from selfiam.service.portal_sessions import PortalConfig, PortalSession
from selfiam.service.portal_signin import (
    INCORRECT,
    INVALID_MFA,
    THROTTLED,
    SignInRefused,
    complete_mfa,
    sign_in,
)
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import create_engine_for, read_transaction, transaction
from selfiam.store.migrate import upgrade_to_head
from support.postgres import fresh_database

PASSWORD = "Initial-Passw0rd!"
BAD_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."
INVALID_CODE = "Authentication code for device is not valid."
STEP = timedelta(seconds=30)
CONFIG = PortalConfig()


def fast_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Alice:
    """alice: a console password, an enabled virtual MFA device, and a caller as her
    access key makes her."""

    def __init__(self, call: Call, runtime: Runtime, clock: Clock, caller: Caller) -> None:
        self.call, self.runtime, self.clock = call, runtime, clock
        runtime.hasher = fast_hasher()
        call("CreateLoginProfile", UserName="alice", Password=PASSWORD)
        call("PutUserPolicy", UserName="alice", PolicyName="own", PolicyDocument=OWN)
        device = call("CreateVirtualMFADevice", VirtualMFADeviceName="alice")["VirtualMFADevice"]
        self.serial: str = device["SerialNumber"]
        self.app = pyotp.TOTP(device["Base32StringSeed"].decode())
        call("EnableMFADevice", UserName="alice", SerialNumber=self.serial, **self.pair(0))
        self.clock.now += STEP  # past the steps enabling used
        self.caller = caller

    def code(self, offset: int = 0) -> str:
        return self.app.at(self.clock() + offset * STEP)

    def pair(self, offset: int = 0) -> dict[str, str]:
        """Two consecutive codes, the second ``offset`` steps from now."""
        return {
            "AuthenticationCode1": self.code(offset - 1),
            "AuthenticationCode2": self.code(offset),
        }

    def wrong(self) -> str:
        """A code no step near now (a resync's window included) has."""
        near = {self.code(k) for k in range(-22, 23)}
        return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)

    def session_token(self, code: str, runtime: Runtime | None = None) -> dict[str, Any]:
        params = {"SerialNumber": self.serial, "TokenCode": code}
        if runtime is None:
            return self.call("GetSessionToken", service="sts", caller=self.caller, **params)
        info = RequestInfo(request_id=new_request_id(), now=runtime.clock(), service="sts")
        return runtime.invoke("sts", "GetSessionToken", params, self.caller, info)

    def refused_session(self, code: str, runtime: Runtime | None = None) -> None:
        fails("AccessDenied", BAD_CODE, self.session_token, code, runtime)

    def password_step(self, password: str = PASSWORD, source_ip: str = "") -> PortalSession:
        signed = sign_in(
            self.runtime, CONFIG, ACCOUNT, "alice", password, self.clock(), source_ip=source_ip
        )
        return signed.session


OWN = on_own_user(["iam:ChangePassword", "iam:ResyncMFADevice"])


@pytest.fixture
def alice(call: Call, runtime: Runtime, clock: Clock, caller_for: Callable[[str], Caller]) -> Alice:
    call("CreateUser", UserName="alice")
    return Alice(call, runtime, clock, caller_for("alice"))


def audit_codes(runtime: Runtime, action: str) -> list[str | None]:
    """The error codes of ``action``'s audit records, oldest first."""
    runtime.audit.flush()
    return [r.error_code for r in reversed(read_records(runtime.engine, action=action))]


# -- MFA codes, per device ----------------------------------------------------------------


def test_failures_lock_the_device_in_every_process(
    alice: Alice, runtime: Runtime, clock: Clock
) -> None:
    """Two Runtimes on one database (two processes or nodes) share the count; the right
    code is then refused, with the answer a wrong one gets, and audited as Throttling."""
    other = Runtime(create_engine_for(runtime.engine.url), runtime.box, clock=clock)
    try:
        for _ in range(3):
            alice.refused_session(alice.wrong())
        for _ in range(2):
            alice.refused_session(alice.wrong(), other)
        alice.refused_session(alice.code(), other)
        alice.refused_session(alice.code())
        other.audit.flush()
    finally:
        other.engine.dispose()
    codes = audit_codes(runtime, "sts:GetSessionToken")
    assert codes == ["AccessDenied"] * 5 + ["Throttling"] * 2
    with read_transaction(runtime.engine) as conn:  # the counts committed, nothing else
        assert conn.execute(select(func.count()).select_from(t.sts_sessions)).scalar_one() == 0
    clock.now += MFA.first_lockout
    assert alice.session_token(alice.code())["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_lockouts_escalate_until_a_right_code(alice: Alice, clock: Clock) -> None:
    for _ in range(5):
        alice.refused_session(alice.wrong())
    clock.now += timedelta(minutes=15)
    for _ in range(5):
        alice.refused_session(alice.wrong())
    clock.now += timedelta(minutes=29)  # the second lockout lasts 30 minutes
    alice.refused_session(alice.code())
    clock.now += timedelta(minutes=1)
    alice.session_token(alice.code())  # accepted: the count and the escalation are cleared
    clock.now += STEP
    for _ in range(5):
        alice.refused_session(alice.wrong())
    clock.now += timedelta(minutes=15)
    alice.session_token(alice.code())


def test_lockout_lengths() -> None:
    minutes = [MFA.lockout(n) / timedelta(minutes=1) for n in range(1, 10)]
    assert minutes == [15, 30, 60, 120, 240, 480, 960, 1440, 1440]
    assert throttle.SIGN_IN.lockout(3) == timedelta(minutes=15)


def test_enabling_is_counted(call: Call, runtime: Runtime, clock: Clock) -> None:
    call("CreateUser", UserName="bob")
    device = call("CreateVirtualMFADevice", VirtualMFADeviceName="bob")["VirtualMFADevice"]
    app = pyotp.TOTP(device["Base32StringSeed"].decode())
    serial = device["SerialNumber"]
    wrong = {"AuthenticationCode1": "000000", "AuthenticationCode2": "000000"}
    right = {"AuthenticationCode1": app.at(clock() - STEP), "AuthenticationCode2": app.at(clock())}
    assert right != wrong

    def enable(codes: dict[str, str]) -> None:
        fails(
            "InvalidAuthenticationCode",
            INVALID_CODE,
            call,
            "EnableMFADevice",
            UserName="bob",
            SerialNumber=serial,
            **codes,
        )

    for _ in range(5):
        enable(wrong)
    enable(right)
    assert call("ListMFADevices", UserName="bob")["MFADevices"] == []
    assert audit_codes(runtime, "iam:EnableMFADevice")[-1] == "Throttling"


def test_resync_and_session_tokens_share_the_count(alice: Alice) -> None:
    def resync(codes: dict[str, str]) -> None:
        fails(
            "InvalidAuthenticationCode",
            INVALID_CODE,
            alice.call,
            "ResyncMFADevice",
            caller=alice.caller,
            UserName="alice",
            SerialNumber=alice.serial,
            **codes,
        )

    wrong = {"AuthenticationCode1": alice.wrong(), "AuthenticationCode2": alice.wrong()}
    for _ in range(3):
        resync(wrong)
    for _ in range(2):
        alice.refused_session(alice.wrong())
    resync(alice.pair(5))  # right codes, refused: the device is locked
    alice.refused_session(alice.code())


def test_portal_codes_count_against_the_device(alice: Alice, runtime: Runtime) -> None:
    half = alice.password_step()
    for _ in range(3):
        with pytest.raises(SignInRefused, match=INVALID_MFA):
            complete_mfa(runtime, CONFIG, half, alice.wrong(), alice.clock())
    for _ in range(2):
        alice.refused_session(alice.wrong())
    alice.refused_session(alice.code())
    assert audit_codes(runtime, "signin:ConsoleLoginMFA") == ["InvalidAuthenticationCode"] * 3


def test_a_locked_device_refuses_the_portal_too(alice: Alice, runtime: Runtime) -> None:
    for _ in range(5):
        alice.refused_session(alice.wrong())
    half = alice.password_step()
    with pytest.raises(SignInRefused, match=INVALID_MFA):  # no oracle: the wrong-code message
        complete_mfa(runtime, CONFIG, half, alice.code(), alice.clock())
    assert audit_codes(runtime, "signin:ConsoleLoginMFA") == ["Throttling"]


def test_deleting_a_device_forgets_its_count(alice: Alice, runtime: Runtime) -> None:
    alice.refused_session(alice.wrong())
    alice.call("DeactivateMFADevice", UserName="alice", SerialNumber=alice.serial)
    alice.call("DeleteVirtualMFADevice", SerialNumber=alice.serial)
    f = t.secret_throttles
    with read_transaction(runtime.engine) as conn:
        rows = conn.execute(select(f.c.subject).where(f.c.scope == "mfa")).all()
    assert rows == []


# -- passwords: the portal's sign-in and ChangePassword -----------------------------------


def test_a_right_password_does_not_clear_mfa_failures(alice: Alice, runtime: Runtime) -> None:
    """Each step comes from a new address, so only the user name's count can stop it
    (the old code cleared it on every right password: 16 codes checked in one window)."""
    addresses = (f"203.0.113.{n}" for n in range(100))

    def wrong_code(half: PortalSession) -> None:
        with pytest.raises(SignInRefused, match=INVALID_MFA):
            complete_mfa(
                runtime, CONFIG, half, alice.wrong(), alice.clock(), source_ip=next(addresses)
            )

    half = alice.password_step(source_ip=next(addresses))
    for _ in range(4):
        wrong_code(half)
    half = alice.password_step(source_ip=next(addresses))  # gives back its own attempt only
    wrong_code(half)
    with pytest.raises(SignInRefused, match=THROTTLED):
        alice.password_step(source_ip=next(addresses))
    assert audit_codes(runtime, "signin:ConsoleLogin") == [None, None, "Throttling"]


def test_change_password_shares_the_sign_in_throttle(
    alice: Alice, runtime: Runtime, clock: Clock
) -> None:
    def change(old: str) -> dict[str, Any]:
        return alice.call(
            "ChangePassword", caller=alice.caller, OldPassword=old, NewPassword="New-Passw0rd!42"
        )

    for _ in range(5):
        fails("AccessDenied", "The old password is incorrect.", change, "guess")
    fails("EntityTemporarilyUnmodifiable", None, change, PASSWORD)
    with pytest.raises(SignInRefused, match=THROTTLED):
        alice.password_step()
    assert audit_codes(runtime, "iam:ChangePassword") == ["AccessDenied"] * 5 + ["Throttling"]
    clock.now += throttle.SIGN_IN.first_lockout
    change(PASSWORD)
    assert alice.password_step("New-Passw0rd!42").stage == "mfa"


# -- concurrency, on both databases -------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def any_runtime(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Runtime]:
    """A Runtime on a fresh database of each kind, with alice and her password."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'throttle.db'}"
        else:
            url = stack.enter_context(fresh_database())
        engine = create_engine_for(url)
        stack.callback(engine.dispose)
        upgrade_to_head(engine)
        with transaction(engine) as conn:
            create_account(conn, clock(), ACCOUNT)
        rt = Runtime(engine, SecretBox(SecretBox.generate_key()), clock=clock, hasher=fast_hasher())
        stack.callback(rt.audit.flush)
        root = Caller.root(ACCOUNT)
        for op, params in (
            ("CreateUser", {"UserName": "alice"}),
            ("CreateLoginProfile", {"UserName": "alice", "Password": PASSWORD}),
        ):
            rt.invoke(
                "iam", op, params, root, RequestInfo(request_id=new_request_id(), now=clock())
            )
        yield rt


def test_concurrent_wrong_passwords_check_at_most_the_limit(
    any_runtime: Runtime, clock: Clock
) -> None:
    """20 wrong passwords at once: 5 are checked, 15 refused unchecked (the old code read
    the count, then wrote it: all 20 were checked)."""
    rt = any_runtime
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            sign_in(rt, CONFIG, ACCOUNT, "alice", f"guess-{n}", clock(), source_ip=f"10.0.0.{n}")
            outcome = "signed in"
        except SignInRefused as refused:
            outcome = str(refused)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == sorted([INCORRECT] * 5 + [THROTTLED] * 15)
    checked = audit_codes(rt, "signin:ConsoleLogin")
    assert checked.count("AccessDenied") == 5 and checked.count("Throttling") == 15


def test_forgotten_rows_are_pruned_as_attempts_come(any_runtime: Runtime, clock: Clock) -> None:
    runtime = any_runtime
    f = t.secret_throttles

    def rows() -> int:
        with read_transaction(runtime.engine) as conn:
            return int(conn.execute(select(func.count()).select_from(f)).scalar_one())

    def guess(user: str) -> None:
        with pytest.raises(SignInRefused, match=INCORRECT):
            sign_in(runtime, CONFIG, ACCOUNT, user, "guess", clock(), source_ip=f"192.0.2.{user}")

    for n in range(15):
        guess(str(n))
    assert rows() == 30
    clock.now += throttle.SIGN_IN.forget_after
    guess("late")
    assert rows() == 30 - throttle.PRUNE_BATCH + 2
