"""The password policy model and its rules (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfiam.domain.errors import ValidationError
from selfiam.domain.password_rules import (
    AWS_DEFAULT_POLICY,
    SYMBOLS,
    PasswordPolicy,
    generate_password,
    violation_message,
    violations,
)

STRICT = PasswordPolicy(
    minimum_password_length=14,
    require_symbols=True,
    require_numbers=True,
    require_uppercase_characters=True,
    require_lowercase_characters=True,
)


def test_defaults_are_update_account_password_policys() -> None:
    policy = PasswordPolicy.from_params({})
    assert policy == PasswordPolicy()
    assert policy.shape() == {
        "MinimumPasswordLength": 6,
        "RequireSymbols": False,
        "RequireNumbers": False,
        "RequireUppercaseCharacters": False,
        "RequireLowercaseCharacters": False,
        "AllowUsersToChangePassword": False,
        "ExpirePasswords": False,
    }


def test_shape_reports_set_options_and_expire_passwords() -> None:
    policy = PasswordPolicy.from_params(
        {"MaxPasswordAge": 90, "PasswordReusePrevention": 5, "HardExpiry": True}
    )
    shape = policy.shape()
    assert shape["ExpirePasswords"] is True
    assert shape["MaxPasswordAge"] == 90
    assert shape["PasswordReusePrevention"] == 5
    assert shape["HardExpiry"] is True


@pytest.mark.parametrize(
    ("params", "member", "bound"),
    [
        ({"MinimumPasswordLength": 5}, "minimumPasswordLength", "greater than or equal to 6"),
        ({"MinimumPasswordLength": 129}, "minimumPasswordLength", "less than or equal to 128"),
        ({"MaxPasswordAge": 1096}, "maxPasswordAge", "less than or equal to 1095"),
        ({"MaxPasswordAge": -1}, "maxPasswordAge", "greater than or equal to 1"),
        ({"PasswordReusePrevention": 25}, "passwordReusePrevention", "less than or equal to 24"),
    ],
)
def test_out_of_range_settings_are_validation_errors(
    params: dict[str, int], member: str, bound: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        PasswordPolicy.from_params(params)
    assert f"at '{member}' failed to satisfy constraint: Member must have value {bound}" in str(
        exc.value.message
    )
    assert exc.value.message.startswith("1 validation error detected: ")


def test_json_round_trip_drops_default_only_rules() -> None:
    policy = PasswordPolicy.from_params({"MinimumPasswordLength": 12, "MaxPasswordAge": 30})
    assert PasswordPolicy.from_json(policy.to_json()) == policy
    assert "minimum_character_types" not in AWS_DEFAULT_POLICY.to_json()


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Sh0rt!", "it must be at least 14 characters long"),
        ("alllowercase1234!", "it must contain at least one uppercase letter (A-Z)"),
        ("ALLUPPERCASE1234!", "it must contain at least one lowercase letter (a-z)"),
        ("NoNumbersInHere!!", "it must contain at least one number (0-9)"),
        ("NoSymbolsInHere123", "it must contain at least one of these symbols: ! @ # $"),
        ("Has1Space But~NoSym", "it must contain at least one of these symbols"),
    ],
)
def test_each_unmet_rule_is_named(password: str, rule: str) -> None:
    found = violations(password, STRICT, "alice")
    assert len(found) == 1
    assert found[0].startswith(rule)


def test_several_unmet_rules_are_all_named_and_the_password_never_quoted() -> None:
    found = violations("abc", STRICT, "alice")
    assert len(found) == 4
    message = violation_message(found)
    assert message.startswith("Password does not conform to the account password policy: ")
    assert "abc" not in message.replace("(a-z)", "")


def test_every_aws_symbol_counts_and_nothing_else_does() -> None:
    policy = PasswordPolicy(require_symbols=True)
    for symbol in SYMBOLS:
        assert violations(f"abcdef{symbol}", policy) == []
    for other in '~`"<>,.?/:; \\':
        assert violations(f"abcdef{other}", policy) != []


def test_length_counts_characters_and_max_is_128() -> None:
    assert violations("a" * 6, PasswordPolicy()) == []
    assert violations("a" * 129, PasswordPolicy()) == ["it must be at most 128 characters long"]


def test_iam_default_policy_needs_8_characters_and_three_kinds() -> None:
    assert violations("Abcdefg1", AWS_DEFAULT_POLICY, "bob") == []
    assert violations("abcdefg1", AWS_DEFAULT_POLICY, "bob") == [
        "it must contain at least 3 of these character types: uppercase letters, lowercase "
        "letters, numbers and symbols (! @ # $ % ^ & * ( ) _ + - = [ ] { } | ')"
    ]
    assert violations("Abc1!", AWS_DEFAULT_POLICY)[0] == "it must be at least 8 characters long"


def test_default_policy_refuses_the_user_name_custom_policies_do_not() -> None:
    assert violations("Alice123", AWS_DEFAULT_POLICY, "alice123") == [
        "it must not be the same as the user name"
    ]
    assert violations("Alice123", PasswordPolicy(), "alice123") == []


def test_expiry_counts_days_from_the_last_change() -> None:
    changed = datetime(2026, 1, 1, tzinfo=UTC)
    never = PasswordPolicy()
    assert never.expires_at(changed) is None
    assert not never.is_expired(changed, changed + timedelta(days=5000))
    ninety = PasswordPolicy(max_password_age=90)
    assert ninety.expires_at(changed) == changed + timedelta(days=90)
    assert not ninety.is_expired(changed, changed + timedelta(days=89, hours=23))
    assert ninety.is_expired(changed, changed + timedelta(days=90))


policies = st.builds(
    PasswordPolicy,
    minimum_password_length=st.integers(6, 128),
    require_symbols=st.booleans(),
    require_numbers=st.booleans(),
    require_uppercase_characters=st.booleans(),
    require_lowercase_characters=st.booleans(),
    minimum_character_types=st.integers(0, 4),
    differs_from_user_name=st.booleans(),
)


@given(policies, st.text(min_size=1, max_size=64))
def test_generated_passwords_always_meet_the_policy(policy: PasswordPolicy, name: str) -> None:
    password = generate_password(policy, name)
    assert violations(password, policy, name) == []
    assert len(password) == max(20, policy.minimum_password_length)


def test_generated_passwords_differ() -> None:
    assert len({generate_password(STRICT) for _ in range(50)}) == 50
