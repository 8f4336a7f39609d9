"""Hypothesis strategies for inputs valid under botocore's model, and their Query form.

``operation_input(model)`` draws keyword arguments for one operation as boto3 would be
called: every required member, some optional ones, strings within the shape's length,
pattern and enum, numbers within range, lists and maps of a few entries. Strings are
kept short (lengths are capped at ``CAP`` unless the model asks for more), and are mixed
with a few realistic values (an existing user, a managed policy's ARN, a policy
document) so that operations get past "not found" often enough to reach deeper code.
Every drawn string is checked with ``selfiam.api.model.Constraints`` — the validation
the API applies — so a value the model refuses is never sent.

``query_params(model, kwargs)`` is botocore's own Query serializer's output.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel, Shape
from botocore.serialize import create_serializer
from hypothesis import strategies as st

from selfiam.api.model import Constraints

CAP = 24
ACCOUNT = "123456789012"

_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}],
    }
)
_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
#: Values that name things the account has, or documents that parse.
REALISTIC = (
    "alice",
    "admins",
    "team",
    "/",
    "/ops/",
    "Active",
    _POLICY,
    _TRUST,
    f"arn:aws:iam::{ACCOUNT}:user/alice",
    f"arn:aws:iam::{ACCOUNT}:policy/team",
    f"arn:aws:iam::{ACCOUNT}:role/deploy",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "iam:GetUser",
    "v1",
    "123456",
)

_ONE_CLASS = re.compile(r"\^?(\[(?:[^\]\\]|\\.)*\])([+*])\$?")
_UNICODE_CLASS = re.compile(r"\\p\{[A-Z][a-z]?\}")
_printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def _bounds(shape: Shape) -> tuple[int, int]:
    low = int(shape.metadata.get("min", 0))
    high = int(shape.metadata.get("max", CAP))
    return low, max(low, min(high, CAP))


def _pattern_strings(pattern: str, low: int, high: int) -> st.SearchStrategy[str]:
    # Java's \p{L} and friends: Python's re has none; letters, digits and space stand in.
    pattern = _UNICODE_CLASS.sub(lambda m: "a-zA-Z0-9 é" if "L" in m.group() else "", pattern)
    single = _ONE_CLASS.fullmatch(pattern)
    if single:
        char = st.from_regex(re.compile(single.group(1), re.ASCII), fullmatch=True)
        return st.lists(
            char, min_size=max(low, 1 if single.group(2) == "+" else 0), max_size=high
        ).map("".join)
    return st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True).filter(
        lambda s: low <= len(s) <= max(high, low)
    )


def _strings(shape: Shape, known: tuple[str, ...]) -> st.SearchStrategy[str]:
    enum = getattr(shape, "enum", None)
    if enum:
        return st.sampled_from(list(enum))
    low, high = _bounds(shape)
    pattern = shape.metadata.get("pattern")
    drawn = (
        _pattern_strings(pattern, low, high)
        if pattern
        else st.text(_printable, min_size=low, max_size=high)
    )
    checks = Constraints(shape)
    drawn = drawn.filter(lambda s: not checks.violations(s))
    fitting = [value for value in REALISTIC + known if not checks.violations(value)]
    if not fitting:
        return drawn
    # Realistic values twice as often as random ones: they get past "not found".
    return st.one_of(drawn, st.sampled_from(fitting), st.sampled_from(fitting))


def _numbers(shape: Shape) -> st.SearchStrategy[Any]:
    low = shape.metadata.get("min", -(2**31) if shape.type_name == "integer" else -(2**40))
    high = shape.metadata.get("max", 2**31 - 1 if shape.type_name == "integer" else 2**40)
    if shape.type_name in ("float", "double"):
        return st.floats(min_value=low, max_value=high, allow_nan=False)
    return st.integers(min_value=int(low), max_value=int(high))


def value_of(shape: Shape, known: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """Values of ``shape`` the model accepts."""
    kind = shape.type_name
    if kind == "string":
        return _strings(shape, known)
    if kind in ("integer", "long", "float", "double"):
        return _numbers(shape)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)).map(
            lambda d: d.replace(tzinfo=UTC, microsecond=0)
        )
    if kind == "blob":
        low, high = _bounds(shape)
        return st.binary(min_size=low, max_size=high)
    if kind == "list":
        low, high = _bounds(shape)
        return st.lists(value_of(shape.member, known), min_size=low, max_size=min(high, 3))
    if kind == "map":
        low, high = _bounds(shape)
        return st.dictionaries(
            value_of(shape.key, known),
            value_of(shape.value, known),
            min_size=low,
            max_size=min(high, 2),
        )
    if kind == "structure":
        return structure(shape, known)
    raise ValueError(f"no strategy for {kind}")


def structure(shape: Shape, known: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    required = set(shape.required_members)
    fixed = {n: value_of(m, known) for n, m in shape.members.items() if n in required}
    optional = {n: value_of(m, known) for n, m in shape.members.items() if n not in required}
    return st.fixed_dictionaries(fixed, optional=optional)


def operation_input(
    model: OperationModel, known: tuple[str, ...] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Inputs of ``model``; ``known`` adds realistic strings (ids the account has)."""
    if model.input_shape is None:
        return st.just({})
    return structure(model.input_shape, known)


_serializer = create_serializer("query", include_validation=False)


def query_params(model: OperationModel, kwargs: dict[str, Any]) -> dict[str, str]:
    """The flat Query parameters boto3 would send for ``kwargs``."""
    body: dict[str, str] = _serializer.serialize_to_request(kwargs, model)["body"]
    return body
