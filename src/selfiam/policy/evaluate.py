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
from typing import Literal

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
    """A statement flattened for the hot path, with its MatchedStatement built once."""

    __slots__ = ("order", "stmt", "is_allow", "matched")

    def __init__(self, order: int, policy: Policy, stmt: Statement) -> None:
        self.order = order
        self.stmt = stmt
        self.is_allow = stmt.effect == "Allow"
        self.matched = MatchedStatement(
            policy.policy_id, policy.kind, stmt.index, stmt.sid, stmt.effect, stmt.start, stmt.end
        )

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


def _account_of(arn: str | None) -> str | None:
    if not arn:
        return None
    parts = arn.split(":", 5)
    return parts[4] or None if len(parts) == 6 else None


def _applies(entry: _Entry, request: Request, account: str | None, missing: set[str]) -> int:
    """0 if the statement does not apply; else how its Principal matched (1 without one)."""
    stmt = entry.stmt
    ctx = request.context
    resources = stmt.resources
    if resources is not None and not stmt.any_resource:
        hit = False
        for pattern in resources:
            if pattern.matches(request.resource, ctx):
                hit = True
                break
        if not hit and stmt.resource_variable_keys:
            missing.update(k for k in stmt.resource_variable_keys if k not in ctx)
        if hit == stmt.not_resource:
            return 0
    level = PRINCIPAL_DIRECT
    if stmt.principal is not None:
        level = stmt.principal.match(request.principal_arn, account)
        if stmt.not_principal:
            level = PRINCIPAL_ACCOUNT if level == PRINCIPAL_NO_MATCH else PRINCIPAL_NO_MATCH
        if level == PRINCIPAL_NO_MATCH:
            return 0
    condition = stmt.condition
    if condition is not None and not condition.evaluate(ctx, missing):
        return 0
    return level


def _missing(missing: set[str]) -> tuple[str, ...]:
    if not missing:
        return ()
    return tuple(sorted(missing, key=str.lower))


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
    account = request.principal_account or _account_of(request.principal_arn)
    missing: set[str] = set()
    sets = [(_as_set(identity), 0)]
    if boundary is not None:
        sets.append((_as_set(boundary), 1))
    if session is not None:
        sets.append((_as_set(session), 2))
    if resource_policy is not None:
        sets.append((_resource_set(resource_policy), 3))
    candidates = [(s.candidates(action), role) for s, role in sets]

    denies: list[MatchedStatement] = []
    for (deny, _allow), _role in candidates:
        for entry in deny:
            if _applies(entry, request, account, missing):
                denies.append(entry.matched)
    if denies:
        return Evaluation("explicitDeny", tuple(denies), _missing(missing))

    allows: list[MatchedStatement] = []
    allowed_by = [False, boundary is None, session is None, False]
    level = PRINCIPAL_NO_MATCH
    for (_deny, allow), role in candidates:
        for entry in allow:
            got = _applies(entry, request, account, missing)
            if got:
                allows.append(entry.matched)
                allowed_by[role] = True
                if role == 3 and got > level:
                    level = got
    identity_ok, boundary_ok, session_ok = allowed_by[0], allowed_by[1], allowed_by[2]
    base = identity_ok and boundary_ok and session_ok
    if resource_policy is None:
        ok = base and not _cross_account(account, request.resource_account)
    elif _cross_account(account, request.resource_account):
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
        return Evaluation("allowed", tuple(allows), _missing(missing))
    return Evaluation("implicitDeny", (), _missing(missing))


def _cross_account(principal_account: str | None, resource_account: str | None) -> bool:
    return bool(principal_account and resource_account and principal_account != resource_account)


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
