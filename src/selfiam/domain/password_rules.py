"""The account password policy and the rules a new password must meet (pure: no I/O).

AWS's model of the policy (UpdateAccountPasswordPolicy): every setting has a
default that applies when the parameter is omitted (no partial updates), and
MaxPasswordAge/PasswordReusePrevention cannot be set to their "off" value 0
explicitly — they are off when omitted.

When an account has no custom policy, IAM still applies its *default* password
policy: at least 8 characters, at least three of the four character types
(uppercase, lowercase, numbers, symbols), and not identical to the account's
name or e-mail — selfiam has neither, so the closest equivalent, the user's
own name, is refused instead. :data:`AWS_DEFAULT_POLICY` is that policy;
GetAccountPasswordPolicy still answers NoSuchEntity for it, as AWS does.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from selfiam.domain.errors import ValidationError

#: The only characters AWS counts as symbols (RequireSymbols).
SYMBOLS = "!@#$%^&*()_+-=[]{}|'"
MAX_PASSWORD_LENGTH = 128
SYMBOL_LIST = " ".join(SYMBOLS)

# (API member name, field name, minimum, maximum) of the integer settings.
_RANGES = (
    ("MinimumPasswordLength", "minimum_password_length", 6, 128),
    ("MaxPasswordAge", "max_password_age", 1, 1095),
    ("PasswordReusePrevention", "password_reuse_prevention", 1, 24),
)
_BOOLEANS = (
    ("RequireSymbols", "require_symbols"),
    ("RequireNumbers", "require_numbers"),
    ("RequireUppercaseCharacters", "require_uppercase_characters"),
    ("RequireLowercaseCharacters", "require_lowercase_characters"),
    ("AllowUsersToChangePassword", "allow_users_to_change_password"),
    ("HardExpiry", "hard_expiry"),
)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """An account password policy; the defaults are UpdateAccountPasswordPolicy's.

    ``max_password_age`` and ``password_reuse_prevention`` use 0 for "not set"
    (passwords never expire; no reuse prevention). The last two fields are not
    AWS settings: they describe IAM's default policy (see the module docstring)
    and are never stored or returned.
    """

    minimum_password_length: int = 6
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase_characters: bool = False
    require_lowercase_characters: bool = False
    allow_users_to_change_password: bool = False
    max_password_age: int = 0
    password_reuse_prevention: int = 0
    hard_expiry: bool = False
    minimum_character_types: int = 0
    differs_from_user_name: bool = False

    def __post_init__(self) -> None:
        errors = []
        for member, name, low, high in _RANGES:
            value = getattr(self, name)
            if name != "minimum_password_length" and value == 0:
                continue
            if value < low:
                errors.append(_range_error(member, value, f"greater than or equal to {low}"))
            elif value > high:
                errors.append(_range_error(member, value, f"less than or equal to {high}"))
        if errors:
            count = len(errors)
            noun = "error" if count == 1 else "errors"
            raise ValidationError(f"{count} validation {noun} detected: {'; '.join(errors)}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PasswordPolicy:
        """The policy UpdateAccountPasswordPolicy sets: omitted settings take their defaults."""
        values: dict[str, Any] = {}
        for member, name, _low, _high in _RANGES:
            if params.get(member) is not None:
                values[name] = int(params[member])
        for member, name in _BOOLEANS:
            if params.get(member) is not None:
                values[name] = bool(params[member])
        return cls(**values)

    @property
    def expire_passwords(self) -> bool:
        return self.max_password_age > 0

    def shape(self) -> dict[str, Any]:
        """The model's PasswordPolicy structure; unset optional settings are left out, as AWS."""
        out: dict[str, Any] = {
            "MinimumPasswordLength": self.minimum_password_length,
            "RequireSymbols": self.require_symbols,
            "RequireNumbers": self.require_numbers,
            "RequireUppercaseCharacters": self.require_uppercase_characters,
            "RequireLowercaseCharacters": self.require_lowercase_characters,
            "AllowUsersToChangePassword": self.allow_users_to_change_password,
            "ExpirePasswords": self.expire_passwords,
        }
        if self.max_password_age:
            out["MaxPasswordAge"] = self.max_password_age
        if self.password_reuse_prevention:
            out["PasswordReusePrevention"] = self.password_reuse_prevention
        if self.hard_expiry:
            out["HardExpiry"] = True
        return out

    def to_json(self) -> str:
        data = asdict(self)
        del data["minimum_character_types"], data["differs_from_user_name"]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PasswordPolicy:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def expires_at(self, changed_at: datetime) -> datetime | None:
        """When a password set at ``changed_at`` expires; None if passwords never expire."""
        if not self.max_password_age:
            return None
        return changed_at + timedelta(days=self.max_password_age)

    def is_expired(self, changed_at: datetime, now: datetime) -> bool:
        expiry = self.expires_at(changed_at)
        return expiry is not None and now >= expiry


#: IAM's default password policy, in force while the account has no custom one.
AWS_DEFAULT_POLICY = PasswordPolicy(
    minimum_password_length=8, minimum_character_types=3, differs_from_user_name=True
)


def _range_error(member: str, value: int, bound: str) -> str:
    path = member[0].lower() + member[1:]
    return (
        f"Value '{value}' at '{path}' failed to satisfy constraint: Member must have value {bound}"
    )


def _character_types(password: str) -> dict[str, bool]:
    return {
        "uppercase": any(c in string.ascii_uppercase for c in password),
        "lowercase": any(c in string.ascii_lowercase for c in password),
        "numbers": any(c in string.digits for c in password),
        "symbols": any(c in SYMBOLS for c in password),
    }


def violations(password: str, policy: PasswordPolicy, user_name: str | None = None) -> list[str]:
    """Each rule of ``policy`` that ``password`` fails, worded for an error message.

    Never quotes the password. Reuse prevention needs the stored history and
    is checked by the service layer.
    """
    found: list[str] = []
    if len(password) < policy.minimum_password_length:
        found.append(f"it must be at least {policy.minimum_password_length} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        found.append(f"it must be at most {MAX_PASSWORD_LENGTH} characters long")
    kinds = _character_types(password)
    if policy.require_uppercase_characters and not kinds["uppercase"]:
        found.append("it must contain at least one uppercase letter (A-Z)")
    if policy.require_lowercase_characters and not kinds["lowercase"]:
        found.append("it must contain at least one lowercase letter (a-z)")
    if policy.require_numbers and not kinds["numbers"]:
        found.append("it must contain at least one number (0-9)")
    if policy.require_symbols and not kinds["symbols"]:
        found.append(f"it must contain at least one of these symbols: {SYMBOL_LIST}")
    if sum(kinds.values()) < policy.minimum_character_types:
        found.append(
            f"it must contain at least {policy.minimum_character_types} of these character "
            f"types: uppercase letters, lowercase letters, numbers and symbols ({SYMBOL_LIST})"
        )
    if policy.differs_from_user_name and user_name and password.lower() == user_name.lower():
        found.append("it must not be the same as the user name")
    return found


def reuse_violation(count: int) -> str:
    return f"it must not be one of the user's last {count} passwords"


def violation_message(found: list[str]) -> str:
    """PasswordPolicyViolation's message: AWS's sentence, then the rules that failed."""
    return f"Password does not conform to the account password policy: {'; '.join(found)}."


# Shell- and copy-friendly symbols (no quote); still AWS symbols, so RequireSymbols is met.
_GENERATED_SYMBOLS = "!@#$%^&*()_+-=[]{}|"
GENERATED_LENGTH = 20


def generate_password(policy: PasswordPolicy, user_name: str | None = None) -> str:
    """A random temporary password that meets ``policy`` (every rule, whatever it requires).

    It always holds all four character types, so any combination of Require*
    settings and IAM's default "three of four" rule is satisfied.
    """
    length = max(GENERATED_LENGTH, policy.minimum_password_length)
    pools = (string.ascii_uppercase, string.ascii_lowercase, string.digits, _GENERATED_SYMBOLS)
    alphabet = "".join(pools)
    rng = secrets.SystemRandom()
    while True:
        chars = [secrets.choice(pool) for pool in pools]
        chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
        rng.shuffle(chars)
        password = "".join(chars)
        if not violations(password, policy, user_name):
            return password
