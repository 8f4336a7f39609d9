"""AWS's policy evaluation logic over compiled policies.

Decision ("How AWS enforcement code logic evaluates requests to allow or deny access",
"Policy evaluation for requests within a single account", "Cross-account policy evaluation
logic", "Permissions boundaries for IAM entities", "Session policies"):

1. An applicable Deny statement in any policy given (identity, boundary, session,
   resource) -> ``explicitDeny``.
2. Otherwise, with ``base`` = identity allows AND boundary (if given) allows AND session
   policies (if given) allow:

   * no resource policy: ``base``;
   * same account (accounts equal, or either unknown), and the resource policy's matching
     Allow names the caller
       - directly ("*", the caller's own IAM user ARN, role-session ARN or federated-user
         ARN): allowed, even if the identity policy, boundary or session policy only
         implicitly denies;
       - as a role ARN, the caller being a session of that role: allowed if the boundary
         and the session policies allow (they limit grants to a role ARN), identity
         policy not needed;
       - through the account (account id or ``arn:aws:iam::ACCT:root``), or by
         NotPrincipal: ``base`` (the account delegates to its identity policies);
     and if no resource Allow applies: ``base``, except for a TRUST policy, which must
     allow explicitly (role trust policies are the documented exception);
   * cross account (both accounts known and different): ``base`` AND the resource policy
     allows; with no resource policy the request is implicitly denied.
3. Else ``implicitDeny``.

The root user is not special-cased here: the service layer does not ask the engine for
its own account's root user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from selfiam.policy.ast import (
    PRINCIPAL_ACCOUNT,
    PRINCIPAL_DIRECT,
    PRINCIPAL_NO_MATCH,
    PRINCIPAL_ROLE,
    Policy,
    PolicyKind,
    Statement,
)
from selfiam.policy.context import RequestContext
from selfiam.policy.patterns import ResourcePattern

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]

_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Request:
    action: str
    resource: str
    context: RequestContext
    principal_arn: str | None = None
    principal_account: str | None = None
    resource_account: str | None = None


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    policy_id: str
    policy_kind: PolicyKind
    statement_index: int
    sid: str | None
    effect: str
    start: tuple[int, int]
    end: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Decision
    matched_statements: tuple[MatchedStatement, ...]
    missing_context_keys: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


class _Entry:
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
        "principal",
        "not_principal",
        "condition",
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
        self.principal = stmt.principal
        self.not_principal = stmt.not_principal
        self.condition = stmt.condition

    def action_matches(self, action: str) -> bool:
        hit = False
        for pattern in self.stmt.actions:
            if pattern.matches(action):
                hit = True
                break
        return hit != self.stmt.not_action


_Candidates = tuple[tuple[_Entry, ...], tuple[_Entry, ...]]


def _is_bucketable(service: str) -> bool:
    return bool(service) and "*" not in service and "?" not in service


class PolicySet:
    """Policies indexed once by action service prefix; reusable across requests.

    Statements whose every Action names a plain service prefix sit in that prefix's bucket;
    the others (NotAction, "*", wildcard prefixes) are candidates for every action. The
    per-action cache keeps, for an action name, the (deny, allow) statements whose action
    element matches it: which statements *could* apply, never a past decision.
    """

    __slots__ = ("policies", "_by_service", "_everywhere", "_cache")

    def __init__(self, policies: Iterable[Policy]) -> None:
        self.policies: tuple[Policy, ...] = tuple(policies)
        by_service: dict[str, list[_Entry]] = {}
        everywhere: list[_Entry] = []
        order = 0
        for policy in self.policies:
            for stmt in policy.statements:
                entry = _Entry(order, policy, stmt)
                order += 1
                services = {a.service.lower() for a in stmt.actions}
                if stmt.not_action or not all(_is_bucketable(s) for s in services):
                    everywhere.append(entry)
                else:
                    for service in services:
                        by_service.setdefault(service, []).append(entry)
        self._by_service = {k: tuple(v) for k, v in by_service.items()}
        self._everywhere = tuple(everywhere)
        self._cache: dict[str, _Candidates] = {}

    def candidates(self, action: str) -> _Candidates:
        """(deny, allow) entries, in policy order, whose Action/NotAction matches `action`."""
        found = self._cache.get(action)
        if found is not None:
            return found
        service = action.split(":", 1)[0].lower()
        pool = self._by_service.get(service, ()) + self._everywhere
        matching = sorted((e for e in pool if e.action_matches(action)), key=lambda e: e.order)
        found = (
            tuple(e for e in matching if not e.is_allow),
            tuple(e for e in matching if e.is_allow),
        )
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[action] = found
        return found


def _as_set(policies: PolicySet | Sequence[Policy]) -> PolicySet:
    return policies if isinstance(policies, PolicySet) else PolicySet(policies)


def _resource_set(policy: Policy) -> PolicySet:
    compiled = policy._compiled
    if compiled is None:
        compiled = PolicySet((policy,))
        object.__setattr__(policy, "_compiled", compiled)
    assert isinstance(compiled, PolicySet)
    return compiled


def _applies(
    entry: _Entry, request: Request, missing: set[str], seen: dict[ResourcePattern, bool]
) -> int:
    """0 if the statement does not apply; else how its Principal matched (3 without one).

    `seen` remembers, for this one request, each resource pattern's answer: patterns are
    shared between statements (`patterns.resource_pattern` caches them by text), and
    matching one with a variable is the costliest step of a decision.
    """
    resources = entry.resources
    if resources is not None:
        resource = request.resource
        ctx = request.context
        hit = False
        for pattern in resources:
            known = seen.get(pattern)
            if known is None:
                known = seen[pattern] = pattern.matches(resource, ctx)
            if known:
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
        level = principal.match(request.principal_arn, request.principal_account)
        if entry.not_principal:
            level = PRINCIPAL_ACCOUNT if level == PRINCIPAL_NO_MATCH else PRINCIPAL_NO_MATCH
        if level == PRINCIPAL_NO_MATCH:
            return 0
    condition = entry.condition
    if condition is not None and not condition.evaluate(request.context, missing):
        return 0
    return level


_new = object.__new__
_slots: dict[str, Any] = dict(Evaluation.__dict__)
_set_decision = _slots["decision"].__set__
_set_matched = _slots["matched_statements"].__set__
_set_missing = _slots["missing_context_keys"].__set__


def _result(decision: Decision, matched: list[MatchedStatement], missing: set[str]) -> Evaluation:
    """Build the frozen Evaluation through its slots (half the cost of the frozen __init__)."""
    result: Evaluation = _new(Evaluation)
    _set_decision(result, decision)
    _set_matched(result, tuple(matched))
    _set_missing(result, tuple(sorted(missing, key=str.lower)) if missing else ())
    return result


def _account_of(arn: str | None) -> str | None:
    if not arn:
        return None
    parts = arn.split(":", 5)
    return (parts[4] or None) if len(parts) == 6 else None


def _cross_account(request: Request) -> bool:
    """Both accounts known and different (the principal's may come from its ARN)."""
    resource_account = request.resource_account
    if not resource_account:
        return False
    account = request.principal_account or _account_of(request.principal_arn)
    return bool(account) and account != resource_account


def evaluate(
    request: Request,
    identity: PolicySet | Sequence[Policy],
    *,
    boundary: PolicySet | Sequence[Policy] | None = None,
    session: PolicySet | Sequence[Policy] | None = None,
    resource_policy: Policy | None = None,
) -> Evaluation:
    """Decide `request` against the principal's policies (see the module docstring)."""
    action = request.action
    missing: set[str] = set()
    seen: dict[ResourcePattern, bool] = {}
    if not isinstance(identity, PolicySet):
        identity = PolicySet(identity)
    id_deny, id_allow = identity.candidates(action)
    if boundary is None and session is None and resource_policy is None:
        # The common case: identity-based policies only.
        denies = [e.matched for e in id_deny if _applies(e, request, missing, seen)]
        if denies:
            return _result("explicitDeny", denies, missing)
        allows = [e.matched for e in id_allow if _applies(e, request, missing, seen)]
        if allows and not (request.resource_account and _cross_account(request)):
            return _result("allowed", allows, missing)
        return _result("implicitDeny", [], missing)
    return _evaluate_all(
        request, id_deny, id_allow, boundary, session, resource_policy, missing, seen
    )


def _evaluate_all(
    request: Request,
    id_deny: tuple[_Entry, ...],
    id_allow: tuple[_Entry, ...],
    boundary: PolicySet | Sequence[Policy] | None,
    session: PolicySet | Sequence[Policy] | None,
    resource_policy: Policy | None,
    missing: set[str],
    seen: dict[ResourcePattern, bool],
) -> Evaluation:
    action = request.action
    b_deny, b_allow = _as_set(boundary).candidates(action) if boundary is not None else ((), ())
    s_deny, s_allow = _as_set(session).candidates(action) if session is not None else ((), ())
    r_deny, r_allow = (
        _resource_set(resource_policy).candidates(action) if resource_policy else ((), ())
    )
    denies = [
        e.matched
        for group in (id_deny, b_deny, s_deny, r_deny)
        for e in group
        if _applies(e, request, missing, seen)
    ]
    if denies:
        return _result("explicitDeny", denies, missing)

    allows: list[MatchedStatement] = []
    allowed_by = [False, boundary is None, session is None]
    for role, group in enumerate((id_allow, b_allow, s_allow)):
        for entry in group:
            if _applies(entry, request, missing, seen):
                allows.append(entry.matched)
                allowed_by[role] = True
    level = PRINCIPAL_NO_MATCH
    for entry in r_allow:
        got = _applies(entry, request, missing, seen)
        if got:
            allows.append(entry.matched)
            level = max(level, got)
    identity_ok, boundary_ok, session_ok = allowed_by
    base = identity_ok and boundary_ok and session_ok
    cross = _cross_account(request)
    if resource_policy is None:
        ok = base and not cross
    elif cross:
        ok = base and level != PRINCIPAL_NO_MATCH
    elif level == PRINCIPAL_DIRECT:
        ok = True
    elif level == PRINCIPAL_ROLE:
        ok = boundary_ok and session_ok
    elif level == PRINCIPAL_ACCOUNT:
        ok = base
    else:
        ok = base and resource_policy.kind is not PolicyKind.TRUST
    if ok:
        return _result("allowed", allows, missing)
    return _result("implicitDeny", [], missing)


def context_keys(policies: Iterable[Policy]) -> list[str]:
    """Every key read by conditions and variables, de-duplicated and sorted, ignoring case.

    GetContextKeysForCustomPolicy / GetContextKeysForPrincipalPolicy. The first spelling
    met is kept.
    """
    seen: dict[str, str] = {}
    for policy in policies:
        for stmt in policy.statements:
            for key in stmt.context_keys:
                seen.setdefault(key.lower(), key)
    return [seen[k] for k in sorted(seen)]
