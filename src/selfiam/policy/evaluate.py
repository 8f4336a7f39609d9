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
)
from selfiam.policy.context import RequestContext
from selfiam.policy.index import Entry, MatchedStatement, PolicySet, applies, collect, matching

__all__ = ["Evaluation", "MatchedStatement", "PolicySet", "Request", "context_keys", "evaluate"]

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]


@dataclass(frozen=True, slots=True)
class Request:
    action: str
    resource: str
    context: RequestContext
    principal_arn: str | None = None
    principal_account: str | None = None
    resource_account: str | None = None
    #: The caller's unique id (a user's AIDA…, a role session's role AROA…), which a
    #: Principal naming a unique id matches.
    principal_id: str | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Decision
    matched_statements: tuple[MatchedStatement, ...]
    missing_context_keys: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


def _as_set(policies: PolicySet | Sequence[Policy]) -> PolicySet:
    return policies if isinstance(policies, PolicySet) else PolicySet(policies)


def _resource_set(policy: Policy) -> PolicySet:
    compiled = policy._compiled
    if compiled is None:
        compiled = PolicySet((policy,))
        object.__setattr__(policy, "_compiled", compiled)
    assert isinstance(compiled, PolicySet)
    return compiled


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
    if not isinstance(identity, PolicySet):
        identity = PolicySet(identity)
    action = request.action
    found = identity.cache.get(action)
    if found is None:
        found = identity.candidates(action)
    missing: set[str] = set()
    if boundary is not None or session is not None or resource_policy is not None:
        return _evaluate_all(request, *found, boundary, session, resource_policy, missing)
    # The common case: identity-based policies only. One pass over the (deny, allow)
    # candidates, which stops after the denies if one applies.
    out: list[MatchedStatement] = []
    group = collect(found, request, missing, out)
    decision: Decision = "explicitDeny"
    if group != 0:
        if group == 1 and not (request.resource_account and _cross_account(request)):
            decision = "allowed"
        else:
            decision = "implicitDeny"
            out = []
    result: Evaluation = _new(Evaluation)
    _set_decision(result, decision)
    _set_matched(result, tuple(out))
    _set_missing(result, tuple(sorted(missing, key=str.lower)) if missing else ())
    return result


def _evaluate_all(
    request: Request,
    id_deny: tuple[Entry, ...],
    id_allow: tuple[Entry, ...],
    boundary: PolicySet | Sequence[Policy] | None,
    session: PolicySet | Sequence[Policy] | None,
    resource_policy: Policy | None,
    missing: set[str],
) -> Evaluation:
    action = request.action
    b_deny, b_allow = _as_set(boundary).candidates(action) if boundary is not None else ((), ())
    s_deny, s_allow = _as_set(session).candidates(action) if session is not None else ((), ())
    r_deny, r_allow = (
        _resource_set(resource_policy).candidates(action) if resource_policy else ((), ())
    )
    denies = [
        m for group in (id_deny, b_deny, s_deny, r_deny) for m in matching(group, request, missing)
    ]
    if denies:
        return _result("explicitDeny", denies, missing)

    allows: list[MatchedStatement] = []
    allowed_by = [False, boundary is None, session is None]
    for role, group in enumerate((id_allow, b_allow, s_allow)):
        matched = matching(group, request, missing)
        if matched:
            allows.extend(matched)
            allowed_by[role] = True
    level = PRINCIPAL_NO_MATCH
    for entry in r_allow:
        got = applies(entry, request, missing)
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
