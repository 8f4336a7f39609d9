"""The account password policy: Get/Update/Delete, AWS's defaults, and who may read it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from tests.service.conftest import ACCOUNT, Call

from selfiam.domain.errors import AccessDenied, AwsError, NoSuchEntity, ValidationError
from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime
from selfiam.store.change_feed import last_id as read_auth_version
from selfiam.store.engine import read_transaction

NO_POLICY = f"The Password Policy with domain name {ACCOUNT} cannot be found."
DEFAULTS = {
    "MinimumPasswordLength": 6,
    "RequireSymbols": False,
    "RequireNumbers": False,
    "RequireUppercaseCharacters": False,
    "RequireLowercaseCharacters": False,
    "AllowUsersToChangePassword": False,
    "ExpirePasswords": False,
}


def denial(action: str) -> str:
    return (
        f"User: arn:aws:iam::{ACCOUNT}:user/carol is not authorized to perform: {action} "
        f"on resource: * because no identity-based policy allows the {action} action"
    )


@pytest.fixture
def carol(call: Call, caller_for: Callable[[str], Caller]) -> Caller:
    """A user with no permissions at all."""
    call("CreateUser", UserName="carol")
    return caller_for("carol")


def test_no_policy_is_no_such_entity(call: Call) -> None:
    with pytest.raises(NoSuchEntity) as exc:
        call("GetAccountPasswordPolicy")
    assert exc.value.message == NO_POLICY
    with pytest.raises(NoSuchEntity) as exc:
        call("DeleteAccountPasswordPolicy")
    assert exc.value.message == NO_POLICY


def test_update_without_parameters_sets_the_defaults(call: Call) -> None:
    assert call("UpdateAccountPasswordPolicy") == {}
    assert call("GetAccountPasswordPolicy") == {"PasswordPolicy": DEFAULTS}


def test_update_sets_every_option(call: Call) -> None:
    call(
        "UpdateAccountPasswordPolicy",
        MinimumPasswordLength=14,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=24,
        HardExpiry=True,
    )
    assert call("GetAccountPasswordPolicy")["PasswordPolicy"] == {
        "MinimumPasswordLength": 14,
        "RequireSymbols": True,
        "RequireNumbers": True,
        "RequireUppercaseCharacters": True,
        "RequireLowercaseCharacters": True,
        "AllowUsersToChangePassword": True,
        "ExpirePasswords": True,
        "MaxPasswordAge": 90,
        "PasswordReusePrevention": 24,
        "HardExpiry": True,
    }


def test_update_is_not_partial(call: Call) -> None:
    call("UpdateAccountPasswordPolicy", RequireSymbols=True, MaxPasswordAge=30)
    call("UpdateAccountPasswordPolicy", MinimumPasswordLength=10)
    assert call("GetAccountPasswordPolicy")["PasswordPolicy"] == {
        **DEFAULTS,
        "MinimumPasswordLength": 10,
    }


def test_out_of_range_is_refused_and_nothing_changes(call: Call) -> None:
    call("UpdateAccountPasswordPolicy", MinimumPasswordLength=12)
    with pytest.raises(ValidationError) as exc:
        call("UpdateAccountPasswordPolicy", MinimumPasswordLength=5, PasswordReusePrevention=30)
    assert exc.value.message.startswith("2 validation errors detected: ")
    assert "'minimumPasswordLength'" in exc.value.message
    assert "'passwordReusePrevention'" in exc.value.message
    assert call("GetAccountPasswordPolicy")["PasswordPolicy"]["MinimumPasswordLength"] == 12


def test_delete_removes_the_policy(call: Call, runtime: Runtime) -> None:
    call("UpdateAccountPasswordPolicy", MinimumPasswordLength=12)
    with read_transaction(runtime.engine) as conn:
        before = read_auth_version(conn)
    assert call("DeleteAccountPasswordPolicy") == {}
    with read_transaction(runtime.engine) as conn:
        assert read_auth_version(conn) == before + 1
    with pytest.raises(NoSuchEntity):
        call("GetAccountPasswordPolicy")


def test_a_user_needs_permission_to_change_or_delete_the_policy(call: Call, carol: Caller) -> None:
    for action, params in (
        ("UpdateAccountPasswordPolicy", {"MinimumPasswordLength": 6}),
        ("DeleteAccountPasswordPolicy", {}),
    ):
        with pytest.raises(AccessDenied) as exc:
            call(action, caller=carol, **params)
        assert exc.value.message == denial(f"iam:{action}")


def test_allow_users_to_change_password_lets_every_user_read_the_policy(
    call: Call, carol: Caller
) -> None:
    call("UpdateAccountPasswordPolicy")
    with pytest.raises(AccessDenied) as exc:
        call("GetAccountPasswordPolicy", caller=carol)
    assert exc.value.message == denial("iam:GetAccountPasswordPolicy")
    call("UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    policy = call("GetAccountPasswordPolicy", caller=carol)["PasswordPolicy"]
    assert policy["AllowUsersToChangePassword"] is True
    # It grants reading, not changing, the policy.
    with pytest.raises(AccessDenied):
        call("UpdateAccountPasswordPolicy", caller=carol)


def test_an_explicit_deny_beats_allow_users_to_change_password(call: Call, carol: Caller) -> None:
    call("UpdateAccountPasswordPolicy", AllowUsersToChangePassword=True)
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "iam:GetAccountPasswordPolicy", "Resource": "*"}
        ],
    }
    call("PutUserPolicy", UserName="carol", PolicyName="no", PolicyDocument=json.dumps(deny))
    with pytest.raises(AccessDenied) as exc:
        call("GetAccountPasswordPolicy", caller=carol)
    assert "with an explicit deny" in exc.value.message


def test_refusals_are_aws_errors(call: Call, carol: Caller) -> None:
    with pytest.raises(AwsError) as exc:
        call("GetAccountPasswordPolicy", caller=carol)
    assert exc.value.code == "AccessDenied" and exc.value.status == 403
