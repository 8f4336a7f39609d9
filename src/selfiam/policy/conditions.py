"""The Condition element: validated and precompiled once, evaluated per request.

Semantics (AWS, "Condition operators", "Conditions with multiple context keys
or values", "Single-valued vs. multivalued context keys"):

* Several operators, and several keys within one operator, are ANDed.
* Several policy values for one key are ORed; for a negated operator
  (StringNotEquals, NotIpAddress, ArnNotLike, ...) they are NORed: the
  condition holds only if the request value matches none of them.
* Keys are case-insensitive.
* A key missing from the request makes an operator false, except that a
  negated operator is then true, `...IfExists` is then true, and `Null` tests
  exactly that. A key present with no values (an empty list) counts as missing.
* Without a set qualifier, a key with several request values matches when any
  of them matches (and a negated operator holds when none matches).
* `ForAllValues:` holds when every request value matches (for a negated
  operator: matches none of the policy values), and also when the key is
  missing or empty. `ForAnyValue:` holds when at least one request value does,
  and is false when the key is missing or empty.
* `IfExists` may not be used with `Null`; a set qualifier on `Null` is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from selfiam.policy.context import RequestContext
from selfiam.policy.errors import SYNTAX_ERRORS, MalformedPolicyError
from selfiam.policy.operators import FAMILIES, Family, ValueSet, compile_values, parse_bool

_ALL = "ForAllValues"
_ANY = "ForAnyValue"
_QUALIFIERS = {"forallvalues": _ALL, "foranyvalue": _ANY}


def _prefix(where: str, message: str, aws_message: str = SYNTAX_ERRORS) -> MalformedPolicyError:
    return MalformedPolicyError(f"{where}: {message}" if where else message, aws_message)


class _UnknownOperator(Exception):
    """An operator IAM does not know: accepted with no keys, "Syntax errors" with some."""


def _value_text(value: object) -> str | None:
    """A condition value as the string IAM compares, or None if it is not a scalar."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


Evaluator = Callable[[RequestContext, "set[str] | None"], bool]


class ConditionEntry:
    """One operator applied to one key, e.g. `StringEquals aws:username [alice, bob]`."""

    __slots__ = (
        "operator",
        "key",
        "values",
        "family",
        "qualifier",
        "if_exists",
        "_valueset",
        "_evaluate",
    )

    def __init__(
        self,
        operator: str,
        key: str,
        values: tuple[str, ...],
        family: Family,
        qualifier: str | None,
        if_exists: bool,
        valueset: ValueSet | None,
    ) -> None:
        self.operator = operator
        self.key = key
        self.values = values
        self.family = family
        self.qualifier = qualifier
        self.if_exists = if_exists
        self._valueset = valueset
        self._evaluate = self.evaluator()

    @property
    def variable_keys(self) -> tuple[str, ...]:
        return self._valueset.variable_keys if self._valueset is not None else ()

    @property
    def is_static(self) -> bool:
        """True when no policy value depends on the request (all precompiled)."""
        return self._valueset is None or self._valueset.static is not None

    def evaluator(self) -> Evaluator:
        """A closure evaluating this condition, specialised for speed."""
        lkey, key, negated = self.key.lower(), self.key, self.family.negated
        if self.family.kind == "null":
            wanted = frozenset(parse_bool(v) for v in self.values)
            when_absent, when_present = True in wanted, False in wanted

            def null(ctx: RequestContext, missing: set[str] | None) -> bool:
                values = ctx.lookup(lkey)
                if values is None and missing is not None:
                    missing.add(key)
                return when_absent if not values else when_present

            return null
        valueset = self._valueset
        assert valueset is not None
        static, bind = valueset.static, valueset.bind
        if self.qualifier == _ALL or self.if_exists:
            absent = True
        elif self.qualifier == _ANY:
            absent = False
        else:
            absent = negated
        # With one request value every form reduces to `match != negated`; with several,
        # ForAllValues (positive) and ForAnyValue (negated) need every value to match.
        use_all = (self.qualifier == _ALL) != negated and self.qualifier is not None

        if static is not None and not use_all:
            # Policy values without variables, any-value semantics: the common case.
            def static_any(ctx: RequestContext, missing: set[str] | None) -> bool:
                values = ctx.lookup(lkey)
                if not values:
                    if values is None and missing is not None:
                        missing.add(key)
                    return absent
                if len(values) == 1:
                    return static(values[0]) != negated
                return any(map(static, values)) != negated

            return static_any

        def evaluate(ctx: RequestContext, missing: set[str] | None) -> bool:
            values = ctx.lookup(lkey)
            if not values:
                if values is None and missing is not None:
                    missing.add(key)
                return absent
            predicate = static if static is not None else bind(ctx, missing)
            if len(values) == 1:
                return predicate(values[0]) != negated
            if use_all:
                return all(map(predicate, values)) != negated
            return any(map(predicate, values)) != negated

        return evaluate

    def evaluate(self, ctx: RequestContext, missing: set[str] | None = None) -> bool:
        return self._evaluate(ctx, missing)

    def __repr__(self) -> str:
        return f"ConditionEntry({self.operator} {self.key} {list(self.values)!r})"


def _parse_operator(name: str, where: str) -> tuple[Family, str | None, bool]:
    """Split "ForAnyValue:StringLikeIfExists" into family, qualifier and IfExists."""
    qualifier = None
    base = name
    if ":" in name:
        head, _, base = name.partition(":")
        qualifier = _QUALIFIERS.get(head.lower())
        if qualifier is None:
            raise _UnknownOperator(name)
    lowered = base.lower()
    if_exists = lowered.endswith("ifexists")
    if if_exists:
        lowered = lowered[: -len("ifexists")]
    family = FAMILIES.get(lowered)
    if family is None:
        raise _UnknownOperator(name)
    if family.kind == "null" and if_exists:
        raise _prefix(where, f"Condition operator {name!r}: IfExists cannot be used with Null.")
    return family, qualifier, if_exists


def _values(raw: object, where: str, operator: str, key: str) -> tuple[str, ...]:
    items: Sequence[object] = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        text = _value_text(item)
        if text is None:
            raise _prefix(
                where,
                f"{operator} {key}: a condition value must be a string, number or boolean, "
                f"or a list of them (got {type(item).__name__}).",
            )
        out.append(text)
    return tuple(out)


def _check_key(key: object, where: str, operator: str) -> str:
    """IAM accepts any key name, even one without a vendor ("a": moto's table of IAM's
    answers); a key no request carries is simply missing when the policy is evaluated."""
    if not isinstance(key, str) or not key:
        raise _prefix(where, f"{operator}: a condition key must be a non-empty string.")
    return key


class ConditionBlock:
    """A compiled Condition element."""

    __slots__ = ("entries", "keys", "_evaluators")

    def __init__(self, entries: tuple[ConditionEntry, ...]) -> None:
        self.entries = entries
        self._evaluators = tuple(entry._evaluate for entry in entries)
        keys: list[str] = []
        seen: set[str] = set()
        for entry in entries:
            for key in (entry.key, *entry.variable_keys):
                if key.lower() not in seen:
                    seen.add(key.lower())
                    keys.append(key)
        #: Context keys the block reads, including keys used as variables in values.
        self.keys: tuple[str, ...] = tuple(keys)

    @staticmethod
    def compile(block: object, variables_enabled: bool, where: str) -> ConditionBlock:
        """Validate and precompile a Condition element; raises MalformedPolicyError."""
        if not isinstance(block, Mapping):
            raise _prefix(where, "the Condition element must be an object.")
        entries: list[ConditionEntry] = []
        for operator, body in block.items():
            if not isinstance(operator, str):
                raise _prefix(where, "a condition operator must be a string.")
            if not isinstance(body, Mapping):
                raise _prefix(
                    where, f"{operator} must map condition keys to values (got a non-object)."
                )
            try:
                family, qualifier, if_exists = _parse_operator(operator, where)
            except _UnknownOperator:
                if body:
                    raise _prefix(where, f"Unknown condition operator {operator!r}.") from None
                continue  # IAM accepts an unknown operator that tests no key: it adds nothing
            for raw_key, raw_values in body.items():
                key = _check_key(raw_key, where, operator)
                values = _values(raw_values, where, operator, key)
                entries.append(
                    _compile_entry(
                        operator,
                        key,
                        values,
                        family,
                        qualifier,
                        if_exists,
                        variables_enabled,
                        where,
                    )
                )
        return ConditionBlock(tuple(entries))

    @property
    def evaluator(self) -> Evaluator:
        """`evaluate` itself, or the one condition's evaluator when there is only one."""
        return self._evaluators[0] if len(self._evaluators) == 1 else self.evaluate

    def evaluate(self, ctx: RequestContext, missing: set[str] | None = None) -> bool:
        """Whether every condition holds; adds to `missing` the keys ctx lacked.

        Without `missing` it stops at the first false condition; with it, it
        evaluates them all so that every missing key is reported.
        """
        if missing is None:
            for evaluate in self._evaluators:  # noqa: SIM110 - a plain loop beats all(genexpr)
                if not evaluate(ctx, None):
                    return False
            return True
        result = True
        for evaluate in self._evaluators:
            if not evaluate(ctx, missing):
                result = False
        return result

    def failing(self, ctx: RequestContext) -> list[ConditionEntry]:
        """The conditions that do not hold for `ctx` (for explanations)."""
        return [
            entry
            for entry, evaluate in zip(self.entries, self._evaluators, strict=True)
            if not evaluate(ctx, None)
        ]

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"ConditionBlock({list(self.entries)!r})"


def _compile_entry(
    operator: str,
    key: str,
    values: tuple[str, ...],
    family: Family,
    qualifier: str | None,
    if_exists: bool,
    variables_enabled: bool,
    where: str,
) -> ConditionEntry:
    if family.kind == "null":
        for value in values:
            if parse_bool(value) is None:
                raise _prefix(where, f"Null {key}: value {value!r} is not true or false.")
        return ConditionEntry(operator, key, values, family, qualifier, False, None)

    def describe(value: str) -> str:
        return f"{operator} {key}: value {value!r}"

    try:
        valueset = compile_values(family, values, variables_enabled, describe)
    except MalformedPolicyError as err:
        raise _prefix(where, err.message, err.aws_message) from None
    return ConditionEntry(operator, key, values, family, qualifier, if_exists, valueset)
