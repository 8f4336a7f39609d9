"""The simulator's inputs: boto3's parameters checked with AWS's wording, and the request
context built from ``ContextEntries`` (see :mod:`selfiam.service.simulate`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from selfiam.domain.errors import AwsError, InvalidInput, ValidationError
from selfiam.policy import RequestContext

PARAMETERS = frozenset(
    {
        "PolicyInputList",
        "PermissionsBoundaryPolicyInputList",
        "ActionNames",
        "ResourceArns",
        "ResourcePolicy",
        "ResourceOwner",
        "CallerArn",
        "ContextEntries",
        "ResourceHandlingOption",
        "MaxItems",
        "Marker",
        "OrderedOrganizationPolicyInputList",
    }
)
# SimulatePrincipalPolicy's own parameters, resolved by the caller into StoredPolicies.
PRINCIPAL_PARAMETERS = (PARAMETERS - {"OrderedOrganizationPolicyInputList"}) | {
    "PolicySourceArn",
    "PolicyExclusionList",
}
CONTEXT_TYPES = frozenset(
    {
        "string",
        "stringList",
        "numeric",
        "numericList",
        "boolean",
        "booleanList",
        "ip",
        "ipList",
        "binary",
        "binaryList",
        "date",
        "dateList",
    }
)
DEFAULT_MAX_ITEMS = 100
_MARKER_PREFIX = "s1:"
_DIGEST_BYTES = 12


def _null(member: str) -> AwsError:
    name = member[0].lower() + member[1:]
    return ValidationError(
        f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: "
        "Member must not be null"
    )


def string_list(params: Mapping[str, Any], member: str, *, required: bool) -> list[str] | None:
    value = params.get(member)
    if value is None:
        if required:
            raise _null(member)
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError(f"{member} must be a list of non-empty strings")
    return value


def optional_string(params: Mapping[str, Any], member: str) -> str | None:
    value = params.get(member)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{member} must be a non-empty string")
    return value


def check_parameters(
    params: Mapping[str, Any],
    allowed: frozenset[str] = PARAMETERS,
    operation: str = "SimulateCustomPolicy",
) -> None:
    if not isinstance(params, Mapping):
        raise ValidationError(f"The request must be an object of {operation} parameters")
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        raise ValidationError(f"Unknown parameter(s) for {operation}: {', '.join(unknown)}")
    if params.get("OrderedOrganizationPolicyInputList"):
        raise InvalidInput("Service control policies are not simulated by selfiam")


def action_names(params: Mapping[str, Any]) -> list[str]:
    actions = string_list(params, "ActionNames", required=True)
    assert actions is not None
    for name in actions:
        if not 3 <= len(name) <= 128:
            raise ValidationError(
                f"1 validation error detected: Value '{name}' at 'actionNames' failed to satisfy "
                "constraint: Member must have length between 3 and 128"
            )
        if "*" in name or "?" in name or ":" not in name:
            raise InvalidInput(
                f"Action name {name} is not valid: give one operation with its service prefix, "
                "such as iam:CreateUser; wildcards are not supported"
            )
    return actions


def max_items(params: Mapping[str, Any]) -> int:
    value = params.get("MaxItems", DEFAULT_MAX_ITEMS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy "
            "constraint: Member must have value between 1 and 1000"
        )
    return value


def request_digest(params: Mapping[str, Any]) -> str:
    """A fingerprint of what a Marker points into: it names a position in ActionNames,
    whose results each cover every ResourceArns entry, and is refused with other lists.
    (A client may change the rest between pages, e.g. MaxItems; the position still means
    the same action.)"""
    lists = [params.get("ActionNames"), params.get("ResourceArns")]
    text = json.dumps(lists, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=_DIGEST_BYTES).hexdigest()


def encode_marker(index: int, digest: str) -> str:
    """The Marker of the page that starts at result (action) ``index``; opaque to clients."""
    return base64.urlsafe_b64encode(f"{_MARKER_PREFIX}{index}:{digest}".encode()).decode()


def start_of(params: Mapping[str, Any], total: int, digest: str) -> int:
    """The index of the first result of the page the Marker asks for (0 without one).

    A Marker is valid only for the request it came from and names a result that exists,
    so no Marker makes the server compute anything but one bounded page.
    """
    marker = params.get("Marker")
    if marker is None:
        return 0
    invalid = ValidationError("Invalid Marker.")
    if not isinstance(marker, str) or len(marker) > 320:
        raise invalid
    try:
        text = base64.urlsafe_b64decode(marker.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise invalid from None
    prefix, _, rest = text.partition(_MARKER_PREFIX)
    index, _, given = rest.partition(":")
    if prefix or not index.isdigit() or len(index) > 20 or given != digest:
        raise invalid
    start = int(index)
    if not 0 < start < total:
        raise invalid
    return start


def _context_values(entry: Any) -> tuple[str, str | list[str]]:
    if not isinstance(entry, Mapping):
        raise ValidationError("Each ContextEntries item must be an object")
    name = entry.get("ContextKeyName")
    if not isinstance(name, str) or not 5 <= len(name) <= 256:
        raise ValidationError(
            "ContextKeyName must be a string of 5 to 256 characters, such as aws:username"
        )
    ctype = entry.get("ContextKeyType", "string")
    if ctype not in CONTEXT_TYPES:
        raise ValidationError(
            f"1 validation error detected: Value '{ctype}' at 'contextEntries.member.contextKeyType'"
            f" failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(sorted(CONTEXT_TYPES))}]"
        )
    raw = entry.get("ContextKeyValues", [])
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ValidationError(f"ContextKeyValues of {name} must be a list of strings")
    values = list(raw)
    if ctype.startswith("boolean"):
        values = [v.lower() for v in values]
        if any(v not in ("true", "false") for v in values):
            raise InvalidInput(f"Context key {name} is boolean: its values must be true or false")
    elif ctype.startswith("numeric"):
        for v in values:
            try:
                float(v)
            except ValueError:
                raise InvalidInput(
                    f"Context key {name} is numeric: {v!r} is not a number"
                ) from None
    if ctype.endswith("List") or len(values) != 1:
        return name, values
    return name, values[0]


def account_of(arn: str | None) -> str | None:
    if not arn:
        return None
    if arn.isdigit() and len(arn) == 12:
        return arn
    parts = arn.split(":", 5)
    return (parts[4] or None) if len(parts) == 6 else None


def request_context(
    params: Mapping[str, Any], caller_arn: str | None, now: datetime
) -> RequestContext:
    entries = params.get("ContextEntries") or []
    if not isinstance(entries, list):
        raise ValidationError("ContextEntries must be a list")
    values: dict[str, str | list[str]] = {}
    for entry in entries:
        name, value = _context_values(entry)
        values[name] = value
    given = {k.lower() for k in values}
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    defaults: dict[str, str] = {
        "aws:CurrentTime": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
    }
    if caller_arn:
        defaults["aws:PrincipalArn"] = caller_arn
        account = account_of(caller_arn)
        if account:
            defaults["aws:PrincipalAccount"] = account
    for key, value in defaults.items():
        if key.lower() not in given:
            values[key] = value
    return RequestContext(values)
