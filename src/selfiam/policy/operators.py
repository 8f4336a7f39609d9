"""Condition operator families and their compiled policy values.

Each family knows how to validate and precompile the values a policy gives for
one key, and builds a predicate "does this request value match any of the
policy values" (several policy values are ORed, AWS "Conditions with multiple
context keys or values"). Negation, IfExists and the set qualifiers are applied
around that predicate in `conditions`.

Policy variables (AWS, "Condition operators"): allowed with the String, Bool
and ARN operators, and not with Numeric, Date, Binary, IpAddress or Null. With
those, `${...}` is plain text and so fails their value validation.

Request values that cannot be read as the family's type (a non-number for
Numeric, an unparsable date or address) simply do not match.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import operator
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import product
from typing import NamedTuple, TypeVar

from selfiam.policy.context import RequestContext
from selfiam.policy.errors import LEGACY_PARSING, SYNTAX_ERRORS, MalformedPolicyError
from selfiam.policy.patterns import Matcher, compile_arn_glob, compile_glob
from selfiam.policy.variables import Template

Compare = Callable[[float, float], bool]
_T = TypeVar("_T")


class Family(NamedTuple):
    """One base condition operator (without IfExists or a set qualifier)."""

    name: str
    kind: str  # string | string_ic | like | numeric | date | bool | binary | ip | arn | null
    negated: bool = False
    compare: Compare = operator.eq


def _families() -> dict[str, Family]:
    out: list[Family] = [
        Family("StringEquals", "string"),
        Family("StringNotEquals", "string", True),
        Family("StringEqualsIgnoreCase", "string_ic"),
        Family("StringNotEqualsIgnoreCase", "string_ic", True),
        Family("StringLike", "like"),
        Family("StringNotLike", "like", True),
        Family("Bool", "bool"),
        Family("BinaryEquals", "binary"),
        Family("IpAddress", "ip"),
        Family("NotIpAddress", "ip", True),
        Family("ArnEquals", "arn"),
        Family("ArnLike", "arn"),
        Family("ArnNotEquals", "arn", True),
        Family("ArnNotLike", "arn", True),
        Family("Null", "null"),
    ]
    for kind, prefix in (("numeric", "Numeric"), ("date", "Date")):
        out += [
            Family(f"{prefix}Equals", kind),
            Family(f"{prefix}NotEquals", kind, True),
            Family(f"{prefix}LessThan", kind, False, operator.lt),
            Family(f"{prefix}LessThanEquals", kind, False, operator.le),
            Family(f"{prefix}GreaterThan", kind, False, operator.gt),
            Family(f"{prefix}GreaterThanEquals", kind, False, operator.ge),
        ]
    return {f.name.lower(): f for f in out}


#: Base operators by lowercased name.
FAMILIES: dict[str, Family] = _families()

_VARIABLE_KINDS = frozenset({"string", "string_ic", "like", "bool", "arn"})

# -- value parsing ----------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH = re.compile(r"[+-]?\d+(?:\.\d+)?")
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?"
)


def parse_policy_number(text: str) -> float | None:
    """A Numeric operator's policy value (integer or decimal), or None."""
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def parse_request_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@lru_cache(maxsize=4096)
def parse_date(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 (W3C profile) date or epoch seconds.

    A date without a time zone is UTC. All-digit text is epoch seconds
    (`aws:EpochTime`), so a bare year is not accepted as a date.
    """
    text = text.strip()
    if _EPOCH.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) and abs(value) < 1e13 else None
    try:
        match = _YEAR_MONTH.fullmatch(text)
        if match:
            when = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
        elif _DATETIME.fullmatch(text):
            iso = text.replace("t", "T").replace("z", "Z")
            when = datetime.fromisoformat(iso)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        else:
            return None
        return when.timestamp()
    except (ValueError, OverflowError):
        return None


_IpRange = tuple[int, int, int]  # (version, first, last)


def parse_network(text: str) -> _IpRange | None:
    """A policy IP value: an address (a /32 or /128) or a CIDR range."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    return (net.version, int(net.network_address), int(net.broadcast_address))


@lru_cache(maxsize=4096)
def parse_address(text: str) -> tuple[int, int] | None:
    """A request IP address as (version, integer); IPv4-mapped IPv6 counts as IPv4."""
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return (4, int(addr.ipv4_mapped))
    return (addr.version, int(addr))


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _request_bytes(text: str) -> bytes:
    """A request value for BinaryEquals: base64 text, else the text's own bytes."""
    decoded = _b64(text)
    return decoded if decoded is not None else text.encode()


def parse_bool(text: str) -> bool | None:
    lowered = text.lower()
    return True if lowered == "true" else False if lowered == "false" else None


# -- compiled value sets ----------------------------------------------------

Predicate = Callable[[str], bool]
Binder = Callable[[RequestContext, "set[str] | None"], Predicate]


def _never(_: str) -> bool:
    return False


def _any_of(matchers: Sequence[Matcher]) -> Predicate:
    if not matchers:
        return _never
    if len(matchers) == 1:
        return matchers[0]
    return lambda v: any(m(v) for m in matchers)


_BOOLS = frozenset({"true", "false"})


def _case_variants(text: str) -> list[str]:
    """Every spelling of an ASCII `text` in upper and lower case letters."""
    return ["".join(chars) for chars in product(*({c.lower(), c.upper()} for c in text))]


def _text_predicate(kind: str, texts: list[str]) -> Predicate:
    """The predicate for string-like kinds, from rendered policy values."""
    if kind == "string":
        return frozenset(texts).__contains__
    if kind == "string_ic":
        lowered = frozenset(t.lower() for t in texts)
        return lambda v: v.lower() in lowered
    if kind == "bool":
        wanted = frozenset(t.lower() for t in texts)
        if wanted <= _BOOLS:
            # Every spelling of "true"/"false" ignoring case (no other character lowercases
            # to one of their letters): a set lookup instead of lowercasing the value.
            return frozenset(v for w in wanted for v in _case_variants(w)).__contains__
        return lambda v: v.lower() in wanted
    if kind == "like":
        return _any_of([compile_glob(t) for t in texts])
    return _any_of([compile_arn_glob(t) for t in texts])  # arn


class ValueSet:
    """The compiled policy values for one key of one operator.

    `static` is the ready predicate when no value depends on the request;
    otherwise `bind(ctx, missing)` renders the variables and builds it.
    """

    __slots__ = ("static", "variable_keys", "_templates", "_kind", "_glob", "_memo")

    def __init__(
        self, static: Predicate | None, kind: str = "", templates: tuple[Template, ...] = ()
    ) -> None:
        self.static = static
        self._kind = kind
        self._templates = templates
        self._glob = kind in ("like", "arn")
        self._memo: dict[tuple[str, ...], Predicate] = {}
        keys: list[str] = []
        for template in templates:
            keys.extend(k for k in template.variable_keys if k not in keys)
        self.variable_keys: tuple[str, ...] = tuple(keys)

    def bind(self, ctx: RequestContext, missing: set[str] | None = None) -> Predicate:
        if self.static is not None:
            return self.static
        glob = self._glob
        texts: list[str] = []
        for template in self._templates:
            rendered = template.render_glob(ctx, missing) if glob else template.render(ctx, missing)
            if rendered is not None:  # a value whose variable has no value matches nothing
                texts.append(rendered)
        key = tuple(texts)
        predicate = self._memo.get(key)
        if predicate is None:
            predicate = _text_predicate(self._kind, texts)
            if len(self._memo) >= 1024:
                self._memo.clear()
            self._memo[key] = predicate
        return predicate


def compile_values(
    family: Family, values: Sequence[str], variables_enabled: bool, describe: Callable[[str], str]
) -> ValueSet:
    """Validate and precompile one key's policy values; `describe(v)` words an error."""
    kind = family.kind
    if kind in _VARIABLE_KINDS:
        templates = tuple(Template.parse(v, variables_enabled) for v in values)
        for template in templates:
            if (
                kind == "bool"
                and parse_bool(template.static_text or "") is None
                and template.is_literal
            ):
                raise MalformedPolicyError(describe(template.text) + " is not true or false.")
        if all(t.is_literal for t in templates):
            glob = kind in ("like", "arn")
            texts = [(t.static_glob if glob else t.static_text) or "" for t in templates]
            return ValueSet(_text_predicate(kind, texts))
        return ValueSet(None, kind, templates)
    if kind == "numeric":
        numbers = _parse_each(values, parse_policy_number, describe, " is not a number.")
        return ValueSet(_compare_predicate(numbers, family.compare, parse_request_number))
    if kind == "date":
        problem = " is not a date: use ISO 8601 (2020-01-01T00:00:00Z) or epoch seconds."
        dates = _parse_each(values, parse_date, describe, problem, LEGACY_PARSING)
        return ValueSet(_compare_predicate(dates, family.compare, parse_date))
    if kind == "ip":
        problem = " is not an IP address or CIDR range."
        return ValueSet(_ip_predicate(_parse_each(values, parse_network, describe, problem)))
    if kind == "binary":
        frozen = frozenset(_parse_each(values, _b64, describe, " is not base64."))
        return ValueSet(lambda v: _request_bytes(v) in frozen)
    raise AssertionError(f"no values for {family.name}")  # Null is handled by the caller


def _parse_each(
    values: Sequence[str],
    parse: Callable[[str], _T | None],
    describe: Callable[[str], str],
    problem: str,
    aws_message: str = SYNTAX_ERRORS,
) -> list[_T]:
    """Every policy value parsed; MalformedPolicyError naming the first one that is not.

    IAM refuses a bad date with "The policy failed legacy parsing" (moto's table of IAM's
    answers); its words for the other kinds are not recorded, "Syntax errors in policy."
    is its general answer.
    """
    parsed: list[_T] = []
    for v in values:
        value = parse(v)
        if value is None:
            raise MalformedPolicyError(describe(v) + problem, aws_message)
        parsed.append(value)
    return parsed


def _compare_predicate(
    wanted: list[float], compare: Compare, parse: Callable[[str], float | None]
) -> Predicate:
    if len(wanted) == 1:
        only = wanted[0]

        def one(v: str) -> bool:
            got = parse(v)
            return got is not None and compare(got, only)

        return one

    def several(v: str) -> bool:
        got = parse(v)
        if got is None:
            return False
        for w in wanted:  # noqa: SIM110 - cheaper than any(genexpr) on the hot path
            if compare(got, w):
                return True
        return False

    return several


def _ip_predicate(ranges: list[_IpRange]) -> Predicate:
    by_version: dict[int, tuple[tuple[int, int], ...]] = {
        version: tuple((lo, hi) for rv, lo, hi in ranges if rv == version) for version in (4, 6)
    }

    def predicate(v: str) -> bool:
        addr = parse_address(v)
        if addr is None:
            return False
        number = addr[1]
        for lo, hi in by_version[addr[0]]:  # noqa: SIM110
            if lo <= number <= hi:
                return True
        return False

    return predicate
