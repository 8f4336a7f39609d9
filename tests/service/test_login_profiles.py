"""Login profiles, ChangePassword, reuse prevention, expiry and the portal's sign-in check."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.service.conftest import ACCOUNT, Call, Clock, denied

from selfiam.auth.passwords import PasswordHasher
from selfiam.domain.errors import AwsError
from selfiam.service.caller import Caller
from selfiam.service.passwords import verify_login
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.change_feed import last_id
from selfiam.store.engine import read_transaction

GOOD = "Correct-Horse-7"
OTHER = "Battery-Staple-8"
THIRD = "Tangerine-Lamp-9"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
CallerFor = Callable[[str], Caller]
#: The password part of a self-service policy: read IAM, change only your own password.
SELF_SERVICE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:ChangePassword",
                "Resource": [
                    "arn:aws:iam::*:user/${aws:username}",
                    "arn:aws:iam::*:user/*/${aws:username}",
                ],
            },
        ],
    }
)


@pytest.fixture
def runtime(runtime: Runtime) -> Runtime:
    """The real argon2id, at a test-friendly cost."""
    runtime.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return runtime


def fails(code: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> str:
    with pytest.raises(AwsError) as info:
        fn(*args, **kw)
    assert info.value.code == code, info.value.message
    return info.value.message


def auth_version(runtime: Runtime) -> int:
    """The id of the latest change published on the feed (SQLite's ``changes`` rows)."""
    with read_transaction(runtime.engine) as conn:
        return last_id(conn)


def history_size(runtime: Runtime, user: str) -> int:
    with read_transaction(runtime.engine) as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(t.password_history.join(t.users))
                .where(t.users.c.name == user)
            ).scalar_one()
        )


def sign_in(runtime: Runtime, user: str, password: str) -> Any:
    return verify_login(runtime, ACCOUNT, user, password, runtime.clock())


@pytest.fixture
def users(call: Call) -> None:
    """alice and bob in SelfService; dave with no permissions."""
    for name in ("alice", "bob", "dave"):
        call("CreateUser", UserName=name)
    call("CreateGroup", GroupName="SelfService")
    arn = call("CreatePolicy", PolicyName="SelfService", PolicyDocument=SELF_SERVICE)["Policy"][
        "Arn"
    ]
    call("AttachGroupPolicy", GroupName="SelfService", PolicyArn=arn)
    for name in ("alice", "bob"):
        call("AddUserToGroup", GroupName="SelfService", UserName=name)


@pytest.fixture
def alice(call: Call, users: None, caller_for: CallerFor) -> Caller:
    call("CreateLoginProfile", UserName="alice", Password=GOOD, PasswordResetRequired=True)
    return caller_for("alice")


# -- CreateLoginProfile / GetLoginProfile -------------------------------------------------


def test_create_and_get_login_profile(call: Call, runtime: Runtime, clock: Clock, users: None):
    before = auth_version(runtime)
    out = call("CreateLoginProfile", UserName="alice", Password=GOOD, PasswordResetRequired=True)
    profile = {"UserName": "alice", "CreateDate": clock.now, "PasswordResetRequired": True}
    assert out == {"LoginProfile": profile}
    assert call("GetLoginProfile", UserName="ALICE") == {"LoginProfile": profile}
    assert auth_version(runtime) == before + 1
    with read_transaction(runtime.engine) as conn:
        stored = conn.execute(select(t.login_profiles.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and GOOD not in stored


def test_password_reset_required_defaults_to_false(call: Call, users: None) -> None:
    call("CreateLoginProfile", UserName="bob", Password=GOOD)
    assert call("GetLoginProfile", UserName="bob")["LoginProfile"]["PasswordResetRequired"] is False


def test_create_errors(call: Call, users: None) -> None:
    message = fails("NoSuchEntity", call, "CreateLoginProfile", UserName="zed", Password=GOOD)
    assert message == "The user with name zed cannot be found."
    call("CreateLoginProfile", UserName="alice", Password=GOOD)
    message = fails(
        "EntityAlreadyExists", call, "CreateLoginProfile", UserName="alice", Password=GOOD
    )
    assert message == "Login Profile for user alice already exists."
    fails("ValidationError", call, "CreateLoginProfile", UserName="bob")
    fails(
        "InvalidInput",
        call,
        "CreateLoginProfile",
        UserName="bob",
        Password=GOOD,
        MaxSigninSessionDuration=3600,
    )


def test_get_without_a_profile(call: Call, users: None) -> None:
    message = fails("NoSuchEntity", call, "GetLoginProfile", UserName="bob")
    assert message == "Login Profile for User bob cannot be found."


def test_a_user_reads_their_own_profile_without_naming_themselves(call: Call, alice: Caller):
    assert call("GetLoginProfile", caller=alice)["LoginProfile"]["UserName"] == "alice"


def test_iam_default_policy_applies_when_none_is_set(call: Call, users: None) -> None:
    message = fails(
        "PasswordPolicyViolation", call, "CreateLoginProfile", UserName="alice", Password="short"
    )
    assert message.startswith("Password does not conform to the account password policy: ")
    assert "at least 8 characters" in message and "at least 3 of these character types" in message
    assert "short" not in message
    fails(
        "PasswordPolicyViolation", call, "CreateLoginProfile", UserName="alice", Password="ALICE1a"
    )
    fails("NoSuchEntity", call, "GetLoginProfile", UserName="alice")  # nothing half-written


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Aa1!aaaaaaa", "it must be at least 12 characters long"),
        ("aa1!aaaaaaaaaa", "it must contain at least one uppercase letter (A-Z)"),
        ("AA1!AAAAAAAAAA", "it must contain at least one lowercase letter (a-z)"),
        ("Aa!aaaaaaaaaaa", "it must contain at least one number (0-9)"),
        ("Aa1aaaaaaaaaaa", "it must contain at least one of these symbols"),
    ],
)
def test_each_custom_rule_is_named(call: Call, users: None, password: str, rule: str) -> None:
    call(
        "UpdateAccountPasswordPolicy",
        MinimumPasswordLength=12,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
    )
    message = fails(
        "PasswordPolicyViolation", call, "CreateLoginProfile", UserName="alice", Password=password
    )
    assert rule in message
    assert password not in message
    call("CreateLoginProfile", UserName="alice", Password="Aa1!aaaaaaaaaa")


# -- UpdateLoginProfile / DeleteLoginProfile ----------------------------------------------


def test_update_login_profile(call: Call, runtime: Runtime, clock: Clock, alice: Caller) -> None:
    clock.now += timedelta(hours=1)
    before = auth_version(runtime)
    assert call("UpdateLoginProfile", UserName="alice", Password=OTHER) == {}
    assert auth_version(runtime) == before + 1
    assert sign_in(runtime, "alice", GOOD) is None
    assert sign_in(runtime, "alice", OTHER) is not None
    profile = call("GetLoginProfile", UserName="alice")["LoginProfile"]
    assert profile["PasswordResetRequired"] is True  # unchanged when not given
    assert profile["CreateDate"] == clock.now - timedelta(hours=1)
    call("UpdateLoginProfile", UserName="alice", PasswordResetRequired=False)
    assert (
        call("GetLoginProfile", UserName="alice")["LoginProfile"]["PasswordResetRequired"] is False
    )
    assert sign_in(runtime, "alice", OTHER) is not None


def test_update_errors(call: Call, alice: Caller) -> None:
    message = fails("NoSuchEntity", call, "UpdateLoginProfile", UserName="bob", Password=GOOD)
    assert message == "Login Profile for User bob cannot be found."
    fails("NoSuchEntity", call, "UpdateLoginProfile", UserName="zed", Password=GOOD)
    fails("PasswordPolicyViolation", call, "UpdateLoginProfile", UserName="alice", Password="x")


def test_delete_login_profile(call: Call, runtime: Runtime, alice: Caller) -> None:
    message = fails("DeleteConflict", call, "DeleteUser", UserName="alice")
    assert message == "Cannot delete entity, must delete login profile first."
    assert call("DeleteLoginProfile", UserName="alice") == {}
    fails("NoSuchEntity", call, "GetLoginProfile", UserName="alice")
    message = fails("NoSuchEntity", call, "DeleteLoginProfile", UserName="alice")
    assert message == "Login Profile for User alice cannot be found."
    assert sign_in(runtime, "alice", GOOD) is None


def test_a_self_service_member_cannot_set_passwords(call: Call, alice: Caller) -> None:
    call("CreateLoginProfile", UserName="bob", Password=GOOD)
    for user, resource in (("bob", BOB), ("alice", ALICE)):
        for action, params in (
            ("UpdateLoginProfile", {"Password": OTHER}),
            ("DeleteLoginProfile", {}),
        ):
            message = fails("AccessDenied", call, action, UserName=user, caller=alice, **params)
            assert message == denied("alice", f"iam:{action}", resource)
    message = fails(
        "AccessDenied", call, "CreateLoginProfile", UserName="dave", Password=GOOD, caller=alice
    )
    assert message == denied("alice", "iam:CreateLoginProfile", f"arn:aws:iam::{ACCOUNT}:user/dave")


# -- ChangePassword ------------------------------------------------------------------------


def test_change_password(call: Call, runtime: Runtime, clock: Clock, alice: Caller) -> None:
    clock.now += timedelta(days=2)
    before = auth_version(runtime)
    assert call("ChangePassword", OldPassword=GOOD, NewPassword=OTHER, caller=alice) == {}
    assert auth_version(runtime) == before + 1
    assert (
        call("GetLoginProfile", UserName="alice")["LoginProfile"]["PasswordResetRequired"] is False
    )
    with read_transaction(runtime.engine) as conn:
        changed = conn.execute(select(t.login_profiles.c.password_changed_at)).scalar_one()
    assert changed == clock.now
    assert sign_in(runtime, "alice", GOOD) is None
    assert sign_in(runtime, "alice", OTHER) is not None


def test_change_password_errors(call: Call, runtime: Runtime, alice: Caller) -> None:
    message = fails(
        "AccessDenied", call, "ChangePassword", OldPassword="nope", NewPassword=OTHER, caller=alice
    )
    assert message == "The old password is incorrect."
    message = fails(
        "PasswordPolicyViolation",
        call,
        "ChangePassword",
        OldPassword=GOOD,
        NewPassword="weak",
        caller=alice,
    )
    assert "at least 8 characters" in message and "weak" not in message
    assert sign_in(runtime, "alice", GOOD) is not None  # nothing changed


def test_root_cannot_change_password(call: Call) -> None:
    message = fails("InvalidUserType", call, "ChangePassword", OldPassword=GOOD, NewPassword=OTHER)
    assert "IAM users" in message


def test_change_password_without_a_login_profile(call: Call, users: None, caller_for: CallerFor):
    message = fails(
        "NoSuchEntity",
        call,
        "ChangePassword",
        OldPassword=GOOD,
        NewPassword=OTHER,
        caller=caller_for("bob"),
    )
    assert message == "Login Profile for User bob cannot be found."


def test_change_password_acts_on_the_caller_only(
    call: Call, runtime: Runtime, alice: Caller, caller_for: CallerFor
) -> None:
    """There is no UserName: bob's own call changes bob's password, never alice's."""
    call("CreateLoginProfile", UserName="bob", Password=THIRD)
    bob = caller_for("bob")
    fails("AccessDenied", call, "ChangePassword", OldPassword=GOOD, NewPassword=OTHER, caller=bob)
    call("ChangePassword", OldPassword=THIRD, NewPassword=OTHER, UserName="alice", caller=bob)
    assert sign_in(runtime, "alice", GOOD) is not None
    assert sign_in(runtime, "bob", OTHER) is not None


def test_allow_users_to_change_password_grants_it(
    call: Call, users: None, caller_for: CallerFor
) -> None:
    call("CreateLoginProfile", UserName="dave", Password=GOOD)
    dave = caller_for("dave")
    dave_arn = f"arn:aws:iam::{ACCOUNT}:user/dave"
    message = fails(
        "AccessDenied", call, "ChangePassword", OldPassword=GOOD, NewPassword=OTHER, caller=dave
    )
    assert message == denied("dave", "iam:ChangePassword", dave_arn)
    call("UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    call("ChangePassword", OldPassword=GOOD, NewPassword=OTHER, caller=dave)
    # It grants iam:ChangePassword on yourself only: no other password operation.
    fails("AccessDenied", call, "UpdateLoginProfile", UserName="dave", Password=THIRD, caller=dave)


def test_explicit_deny_beats_allow_users_to_change_password(
    call: Call, users: None, caller_for: CallerFor
) -> None:
    call("UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    call("CreateLoginProfile", UserName="alice", Password=GOOD)
    call(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="frozen",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", '
        '"Action": "iam:ChangePassword", "Resource": "*"}]}',
    )
    message = fails(
        "AccessDenied",
        call,
        "ChangePassword",
        OldPassword=GOOD,
        NewPassword=OTHER,
        caller=caller_for("alice"),
    )
    assert message.endswith("with an explicit deny in an identity-based policy")


# -- reuse prevention and expiry -----------------------------------------------------------


def test_reuse_prevention(call: Call, runtime: Runtime, users: None, caller_for: CallerFor):
    call("UpdateAccountPasswordPolicy", PasswordReusePrevention=2, AllowUsersToChangePassword=True)
    call("CreateLoginProfile", UserName="alice", Password=GOOD)
    alice = caller_for("alice")
    call("ChangePassword", OldPassword=GOOD, NewPassword=OTHER, caller=alice)
    for reused in (GOOD, OTHER):
        message = fails(
            "PasswordPolicyViolation",
            call,
            "ChangePassword",
            OldPassword=OTHER,
            NewPassword=reused,
            caller=alice,
        )
        assert "it must not be one of the user's last 2 passwords" in message
    # An admin's reset is held to the same history.
    fails("PasswordPolicyViolation", call, "UpdateLoginProfile", UserName="alice", Password=GOOD)
    call("ChangePassword", OldPassword=OTHER, NewPassword=THIRD, caller=alice)
    assert history_size(runtime, "alice") == 2  # only as many hashes as the policy remembers
    call("ChangePassword", OldPassword=THIRD, NewPassword=GOOD, caller=alice)  # GOOD aged out


def test_no_history_is_kept_without_reuse_prevention(call: Call, runtime: Runtime, alice: Caller):
    call("ChangePassword", OldPassword=GOOD, NewPassword=OTHER, caller=alice)
    call("ChangePassword", OldPassword=OTHER, NewPassword=GOOD, caller=alice)
    assert history_size(runtime, "alice") == 0


def test_expired_passwords(call: Call, runtime: Runtime, clock: Clock, alice: Caller) -> None:
    call("UpdateAccountPasswordPolicy", MaxPasswordAge=30)
    clock.now += timedelta(days=29)
    signed = sign_in(runtime, "alice", GOOD)
    assert signed.password_expired is False and signed.must_change_password  # reset required
    clock.now += timedelta(days=1)
    signed = sign_in(runtime, "alice", GOOD)
    assert signed.password_expired is True and signed.must_contact_admin is False
    # From a portal session (no access key) the user may still change it...
    portal = Caller(ACCOUNT, ALICE, alice.user_id, "alice")
    call("ChangePassword", OldPassword=GOOD, NewPassword=OTHER, caller=portal)
    signed = sign_in(runtime, "alice", OTHER)
    assert signed.password_expired is False and not signed.must_change_password


def test_hard_expiry(call: Call, runtime: Runtime, clock: Clock, alice: Caller) -> None:
    call("UpdateAccountPasswordPolicy", MaxPasswordAge=30, HardExpiry=True)
    clock.now += timedelta(days=31)
    assert sign_in(runtime, "alice", GOOD).must_contact_admin is True
    portal = Caller(ACCOUNT, ALICE, alice.user_id, "alice")
    message = fails(
        "AccessDenied", call, "ChangePassword", OldPassword=GOOD, NewPassword=OTHER, caller=portal
    )
    assert "HardExpiry" in message
    # AWS: with iam:ChangePassword and an access key, the API still lets them reset it.
    call("ChangePassword", OldPassword=GOOD, NewPassword=OTHER, caller=alice)
    assert sign_in(runtime, "alice", OTHER).password_expired is False
    # An admin's reset also starts a new age.
    clock.now += timedelta(days=31)
    call("UpdateLoginProfile", UserName="alice", Password=THIRD)
    assert sign_in(runtime, "alice", THIRD).must_contact_admin is False


# -- sign-in -------------------------------------------------------------------------------


class CountingHasher(PasswordHasher):
    """The real hasher, counting verifications (to see the unknown-user path does the work)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verifications = 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(password_hash, password)


def test_verify_login(call: Call, runtime: Runtime, clock: Clock, alice: Caller) -> None:
    counting = CountingHasher()
    runtime.hasher = counting
    call("UpdateLoginProfile", UserName="alice", Password=GOOD)
    for user, password in (("nobody", GOOD), ("bob", GOOD), ("alice", "wrong")):
        before = counting.verifications
        assert sign_in(runtime, user, password) is None
        assert counting.verifications == before + 1  # same work, known user or not
    assert "PasswordLastUsed" not in call("GetUser", UserName="alice")["User"]
    clock.now += timedelta(minutes=5)
    signed = sign_in(runtime, "ALICE", GOOD)
    assert (signed.user_name, signed.arn, signed.user_id) == ("alice", ALICE, alice.user_id)
    assert signed.password_reset_required and signed.must_change_password
    assert call("GetUser", UserName="alice")["User"]["PasswordLastUsed"] == clock.now
    runtime.audit.flush()
    with read_transaction(runtime.engine) as conn:
        rows = conn.execute(
            select(t.audit_records.c.caller_arn, t.audit_records.c.decision).where(
                t.audit_records.c.action == "signin:ConsoleLogin"
            )
        ).all()
    assert (ALICE, "allowed") in rows and (ALICE, "error") in rows and (None, "error") in rows


def test_sign_in_upgrades_an_old_hash(call: Call, runtime: Runtime, alice: Caller) -> None:
    runtime.hasher = PasswordHasher(time_cost=2, memory_cost=8, parallelism=1)
    assert sign_in(runtime, "alice", GOOD) is not None
    with read_transaction(runtime.engine) as conn:
        stored = conn.execute(select(t.login_profiles.c.password_hash)).scalar_one()
    assert "t=2" in stored
    assert sign_in(runtime, "alice", GOOD) is not None
