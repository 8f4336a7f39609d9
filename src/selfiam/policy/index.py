"""A principal's policies indexed by action, and the per-statement checks of a decision.

`PolicySet` flattens every statement into an `Entry` once, with the work of deciding
whether it applies to a request laid out for the hot path: which kind of resource test it
needs, its condition's evaluator, its `MatchedStatement`. `matching` runs those checks over
the candidate statements of one action; `applies` is the general form (Principal,
NotPrincipal, NotResource, several resources), which every statement could take and which
gives the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from selfiam.policy.ast import (
    PRINCIPAL_ACCOUNT,
    PRINCIPAL_DIRECT,
    PRINCIPAL_NO_MATCH,
    Policy,
    PolicyKind,
    Statement,
)
from selfiam.policy.conditions import Evaluator

if TYPE_CHECKING:
    from selfiam.policy.evaluate import Request

_CACHE_SIZE = 1024

# How an entry's Resource is tested (see `Entry.kind`).
_ANY = 0  # no test: any resource
_STATIC = 1  # one pattern without variables: test(resource)
_CONTEXT = 2  # one pattern with variables: test(resource, ctx, None)
_GENERAL = 3  # anything else: `applies`


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    policy_id: str
    policy_kind: PolicyKind
    statement_index: int
    sid: str | None
    effect: str
    start: tuple[int, int]
    end: tuple[int, int]


def _never(*_: object) -> bool:
    return False


class Entry:
    """A statement flattened for the hot path, with its MatchedStatement built once.

    `resources` is None when the statement applies to any resource (no Resource element,
    or a Resource list containing "*").
    """

    __slots__ = (
        "order",
        "stmt",
        "is_allow",
        "matched",
        "resources",
        "not_resource",
        "variable_keys",
        "lowered_variable_keys",
        "principal",
        "not_principal",
        "condition",
        "kind",
        "test",
        "evaluate_condition",
    )

    def __init__(self, order: int, policy: Policy, stmt: Statement) -> None:
        self.order = order
        self.stmt = stmt
        self.is_allow = stmt.effect == "Allow"
        self.matched = MatchedStatement(
            policy.policy_id, policy.kind, stmt.index, stmt.sid, stmt.effect, stmt.start, stmt.end
        )
        self.resources = None if stmt.any_resource else stmt.resources
        self.not_resource = stmt.not_resource
        self.variable_keys = stmt.resource_variable_keys
        self.lowered_variable_keys = tuple((k, k.lower()) for k in self.variable_keys)
        self.principal = stmt.principal
        self.not_principal = stmt.not_principal
        self.condition = stmt.condition
        self.test: Callable[..., bool] = _never
        self.kind = _GENERAL
        if self.principal is None:
            resources = self.resources
            if resources is None:
                self.kind = _ANY
            elif len(resources) == 1 and not self.not_resource:
                static = resources[0].static_match
                if static is not None:
                    self.kind, self.test = _STATIC, static
                else:
                    self.kind, self.test = _CONTEXT, resources[0].match
        condition = self.condition
        self.evaluate_condition: Evaluator | None = (
            None if condition is None else condition.evaluator
        )

    def action_matches(self, action: str) -> bool:
        hit = False
        for pattern in self.stmt.actions:
            if pattern.matches(action):
                hit = True
                break
        return hit != self.stmt.not_action


Candidates = tuple[tuple[Entry, ...], tuple[Entry, ...]]


def _is_bucketable(service: str) -> bool:
    return bool(service) and "*" not in service and "?" not in service


class PolicySet:
    """Policies indexed once by action service prefix; reusable across requests.

    Statements whose every Action names a plain service prefix sit in that prefix's bucket;
    the others (NotAction, "*", wildcard prefixes) are candidates for every action. The
    per-action cache keeps, for an action name, the (deny, allow) statements whose action
    element matches it: which statements *could* apply, never a past decision.
    """

    __slots__ = ("policies", "_by_service", "_everywhere", "cache")

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies: tuple[Policy, ...] = tuple(policies)
        by_service: dict[str, list[Entry]] = {}
        everywhere: list[Entry] = []
        order = 0
        for policy in self.policies:
            for stmt in policy.statements:
                entry = Entry(order, policy, stmt)
                order += 1
                services = {a.service.lower() for a in stmt.actions}
                if stmt.not_action or not all(_is_bucketable(s) for s in services):
                    everywhere.append(entry)
                else:
                    for service in services:
                        by_service.setdefault(service, []).append(entry)
        self._by_service = {k: tuple(v) for k, v in by_service.items()}
        self._everywhere = tuple(everywhere)
        #: action name -> its candidates (read directly on the hot path).
        self.cache: dict[str, Candidates] = {}

    def candidates(self, action: str) -> Candidates:
        """(deny, allow) entries, in policy order, whose Action/NotAction matches `action`."""
        found = self.cache.get(action)
        if found is not None:
            return found
        service = action.split(":", 1)[0].lower()
        pool = self._by_service.get(service, ()) + self._everywhere
        matching = sorted((e for e in pool if e.action_matches(action)), key=lambda e: e.order)
        found = (
            tuple(e for e in matching if not e.is_allow),
            tuple(e for e in matching if e.is_allow),
        )
        if len(self.cache) >= _CACHE_SIZE:
            self.cache.clear()
        self.cache[action] = found
        return found


def applies(entry: Entry, request: Request, missing: set[str]) -> int:
    """0 if the statement does not apply; else how its Principal matched (3 without one)."""
    resources = entry.resources
    if resources is not None:
        resource = request.resource
        ctx = request.context
        hit = False
        for pattern in resources:
            if pattern.match(resource, ctx, None):
                hit = True
                break
        if not hit and entry.variable_keys:
            for key in entry.variable_keys:
                if key not in ctx:
                    missing.add(key)
        if hit == entry.not_resource:
            return 0
    level = PRINCIPAL_DIRECT
    principal = entry.principal
    if principal is not None:
        level = principal.match(
            request.principal_arn, request.principal_account, request.principal_id
        )
        if entry.not_principal:
            level = PRINCIPAL_ACCOUNT if level == PRINCIPAL_NO_MATCH else PRINCIPAL_NO_MATCH
        if level == PRINCIPAL_NO_MATCH:
            return 0
    condition = entry.condition
    if condition is not None and not condition.evaluate(request.context, missing):
        return 0
    return level


def matching(
    entries: tuple[Entry, ...], request: Request, missing: set[str]
) -> list[MatchedStatement]:
    """The MatchedStatement of each entry that applies to `request`, in order."""
    out: list[MatchedStatement] = []
    collect((entries,), request, missing, out)
    return out


def collect(
    groups: Iterable[tuple[Entry, ...]],
    request: Request,
    missing: set[str],
    out: list[MatchedStatement],
) -> int:
    """Append to `out` the MatchedStatement of each entry that applies to `request`.

    Goes through `groups` in order and stops after the first group in which something
    applied, returning its index (-1 if nothing applied): with (deny, allow) candidates,
    0 is an explicit deny and 1 an allow. The same answers (and missing keys) as `applies`
    on each entry, with the common statement shapes tested inline.
    """
    resource = request.resource
    ctx = request.context
    index = 0
    for entries in groups:
        for entry in entries:
            kind = entry.kind
            if kind == _ANY:
                pass
            elif kind == _CONTEXT:
                if not entry.test(resource, ctx, None):
                    lookup = ctx.lookup
                    for key, lowered in entry.lowered_variable_keys:
                        if lookup(lowered) is None:
                            missing.add(key)
                    continue
            elif kind == _STATIC:
                if not entry.test(resource):
                    continue
            else:
                if applies(entry, request, missing):
                    out.append(entry.matched)
                continue
            evaluate_condition = entry.evaluate_condition
            if evaluate_condition is None or evaluate_condition(ctx, missing):
                out.append(entry.matched)
        if out:
            return index
        index += 1
    return -1
