"""SimulateCustomPolicy and GetContextKeysForCustomPolicy as pure functions over the engine.

Why a pure function: the same code answers the API's SimulateCustomPolicy, the CLI's
``selfiam policy simulate`` (thousands of cases in one process) and, given the principal's
stored policies, SimulatePrincipalPolicy. So it takes boto3's parameters and returns boto3's
response dict, reads no clock (``now`` is passed in) and imports nothing of the store.

What AWS answers, and what this module copies (IAM API reference: SimulateCustomPolicy,
EvaluationResult, ResourceSpecificResult, Statement, ContextEntry):

* One ``EvaluationResult`` per action name, whatever the number of resource ARNs: the
  top-level ``EvalDecision`` is the most restrictive decision over the resources
  (explicitDeny > implicitDeny > allowed) and, when ``ResourceArns`` is more than ``["*"]``,
  ``ResourceSpecificResults`` gives each resource's own decision.
* ``MatchedStatements`` name the input they come from the way AWS's simulator does:
  ``PolicyInputList.N`` (type ``IAM Policy``), ``PermissionsBoundaryPolicyInputList.N``
  (``Permissions Boundary Policy``) and ``ResourcePolicy`` (``Resource Policy``), with the
  1-based line/column of the statement's braces. (The model's PolicySourceType enum lists
  user/group/role/...; those are what SimulatePrincipalPolicy uses for stored policies, and
  botocore does not enforce output enums.)
* ``EvalDecisionDetails``: absent for the resource ``*``; present and empty for a resource in
  the caller's account; for a cross-account resource, the decision of the IAM policies and of
  the resource policy taken separately.
* ``PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary`` when a boundary is given.
* ``MissingContextValues``: the context keys the deciding statements read and the request
  did not carry.

Context: ``ContextEntries`` become request-context values by type (lists for the ``*List``
types, ``boolean`` values lower-cased). ``aws:CurrentTime`` and ``aws:EpochTime`` come from
``now`` unless given. ``CallerArn`` is the principal the resource policy's ``Principal`` is
matched against, and supplies ``aws:PrincipalArn`` / ``aws:PrincipalAccount`` unless given.

SimulatePrincipalPolicy: the service layer loads the principal's stored policies, compiled,
and passes them as ``StoredPolicies`` with the name AWS's simulator gives each source
(``SourcePolicyId`` / ``SourcePolicyType``); ``PolicyInputList`` adds to them and
``PermissionsBoundaryPolicyInputList`` replaces the stored boundary, as AWS documents.

Cost: each distinct policy text is parsed once per process (an LRU keyed by text, kind and
input position), and each distinct list of policies is indexed once, so a batch of thousands
of requests over the same policies spends its time evaluating, not parsing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from selfiam.domain.errors import InvalidInput, ValidationError
from selfiam.policy import (
    Evaluation,
    MalformedPolicyError,
    MatchedStatement,
    Policy,
    PolicyKind,
    PolicySet,
    Request,
    context_keys,
    evaluate,
    parse_policy,
)
from selfiam.service.simulation_input import (
    PRINCIPAL_PARAMETERS,
    account_of,
    action_names,
    check_parameters,
    optional_string,
    paging,
    request_context,
    string_list,
)

__all__ = [
    "StoredPolicies",
    "clear_caches",
    "context_keys_for_custom_policy",
    "context_keys_for_principal_policy",
    "simulate_custom_policy",
    "simulate_principal_policy",
]

_SOURCE_TYPES = {
    PolicyKind.MANAGED: "IAM Policy",
    PolicyKind.BOUNDARY: "Permissions Boundary Policy",
    PolicyKind.RESOURCE: "Resource Policy",
    PolicyKind.TRUST: "Resource Policy",
}
_RANK = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
_ALLOW_ALL = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'


# ---------------------------------------------------------------------------------------------
# Parsing, once per distinct text.


@lru_cache(maxsize=1024)
def _compiled(text: str, kind: PolicyKind, policy_id: str) -> Policy | MalformedPolicyError:
    """The parsed policy, or the error it raised (cached too: a bad text is parsed once).

    Bounded to 1,024 texts (LRU) of at most the model's 131,072 characters, filled only
    by authenticated and authorized simulations; no age bound: a text's parse never
    goes stale.
    """
    try:
        return parse_policy(text, kind, policy_id)
    except MalformedPolicyError as exc:
        return exc.with_traceback(None)


def _parse(text: str, kind: PolicyKind, policy_id: str) -> Policy:
    result = _compiled(text, kind, policy_id)
    if isinstance(result, MalformedPolicyError):
        raise result
    return result


@lru_cache(maxsize=256)
def _policy_set(texts: tuple[str, ...], kind: PolicyKind, prefix: str) -> PolicySet:
    """A list of input policies, parsed and indexed once (``prefix.N`` names policy N);
    bounded to 256 lists (LRU), never stale, like ``_compiled``."""
    return PolicySet(_parse(text, kind, f"{prefix}.{n}") for n, text in enumerate(texts, 1))


def _resource_policy(text: str) -> Policy:
    """A resource-based policy; a role trust policy (no Resource element) is accepted too."""
    first = _compiled(text, PolicyKind.RESOURCE, "ResourcePolicy")
    if isinstance(first, Policy):
        return first
    trust = _compiled(text, PolicyKind.TRUST, "ResourcePolicy")
    if isinstance(trust, Policy):
        return trust
    raise first


def clear_caches() -> None:
    """Forget parsed policies (tests, and a process that wants its memory back)."""
    _compiled.cache_clear()
    _policy_set.cache_clear()


# ---------------------------------------------------------------------------------------------
# Evaluation and the response shape.


def _position(pos: tuple[int, int]) -> dict[str, int]:
    return {"Line": pos[0], "Column": pos[1]}


@dataclass(frozen=True, slots=True)
class StoredPolicies:
    """A principal's stored policies, compiled, for SimulatePrincipalPolicy.

    ``sources`` maps each ``Policy.policy_id`` to the (SourcePolicyId, SourcePolicyType)
    that MatchedStatements report for it; the ids must not look like ``PolicyInputList.N``.
    """

    identity: tuple[Policy, ...]
    boundary: Policy | None = None
    sources: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def _statement(m: MatchedStatement, sources: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    source = sources.get(m.policy_id)
    policy_id, policy_type = source or (m.policy_id, _SOURCE_TYPES.get(m.policy_kind, "IAM Policy"))
    return {
        "SourcePolicyId": policy_id,
        "SourcePolicyType": policy_type,
        "StartPosition": _position(m.start),
        "EndPosition": _position(m.end),
    }


class _Simulation:
    """One call's parsed inputs; `result(action)` builds one EvaluationResult."""

    def __init__(
        self, params: Mapping[str, Any], now: datetime, stored: StoredPolicies | None = None
    ) -> None:
        identity_texts = string_list(params, "PolicyInputList", required=stored is None) or []
        boundary_texts = string_list(params, "PermissionsBoundaryPolicyInputList", required=False)
        resources = string_list(params, "ResourceArns", required=False) or ["*"]
        resource_text = optional_string(params, "ResourcePolicy")
        self.caller_arn = optional_string(params, "CallerArn")
        owner = optional_string(params, "ResourceOwner")
        optional_string(params, "ResourceHandlingOption")  # EC2 scenarios: accepted, unused
        if resource_text is not None and self.caller_arn is None:
            raise InvalidInput(
                "CallerArn is required with ResourcePolicy: it is the principal the policy's "
                "Principal element is matched against"
            )

        inputs = _policy_set(tuple(identity_texts), PolicyKind.MANAGED, "PolicyInputList")
        self.sources: Mapping[str, tuple[str, str]] = {}
        self.identity = inputs
        self.boundary = (
            _policy_set(
                tuple(boundary_texts), PolicyKind.BOUNDARY, "PermissionsBoundaryPolicyInputList"
            )
            if boundary_texts
            else None
        )
        if stored is not None:
            self.sources = stored.sources
            self.identity = PolicySet((*stored.identity, *inputs.policies))
            if self.boundary is None and stored.boundary is not None:
                # An input boundary replaces the stored one: an entity has one boundary.
                self.boundary = PolicySet([stored.boundary])
        self.resource_policy = _resource_policy(resource_text) if resource_text else None
        self.resources = resources
        self.per_resource = resources != ["*"]
        self.owner_account = account_of(owner)
        self.caller_account = account_of(self.caller_arn)
        self.context = request_context(params, self.caller_arn, now)

    def _request(self, action: str, resource: str, *, same_account: bool = False) -> Request:
        account = None
        if resource != "*" and not same_account:
            account = account_of(resource) or self.owner_account
        return Request(
            action=action,
            resource=resource,
            context=self.context,
            principal_arn=self.caller_arn,
            principal_account=self.caller_account,
            resource_account=account,
        )

    def _details(self, action: str, resource: str, request: Request) -> dict[str, str] | None:
        """EvalDecisionDetails: None for "*", {} in the same account, per policy type across."""
        if resource == "*":
            return None
        account = request.resource_account
        if not (account and self.caller_account and account != self.caller_account):
            return {}
        alone = self._request(action, resource, same_account=True)
        details: dict[str, str] = {
            "IAM Policy": evaluate(alone, self.identity, boundary=self.boundary).decision
        }
        if self.resource_policy is not None:
            everything = _policy_set((_ALLOW_ALL,), PolicyKind.MANAGED, "AllowAll")
            decision = evaluate(request, everything, resource_policy=self.resource_policy)
            details["Resource Policy"] = decision.decision
        return details

    def _one(self, action: str, resource: str) -> tuple[Evaluation, dict[str, Any]]:
        request = self._request(action, resource)
        evaluation = evaluate(
            request, self.identity, boundary=self.boundary, resource_policy=self.resource_policy
        )
        extra: dict[str, Any] = {}
        details = self._details(action, resource, request)
        if details is not None:
            extra["EvalDecisionDetails"] = details
        if self.boundary is not None:
            alone = self._request(action, resource, same_account=True)
            allowed = evaluate(alone, self.boundary).decision == "allowed"
            extra["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": allowed}
        return evaluation, extra

    def result(self, action: str) -> dict[str, Any]:
        outcomes = [(resource, *self._one(action, resource)) for resource in self.resources]
        worst = max(outcomes, key=lambda o: _RANK[o[1].decision])
        decision = worst[1].decision
        matched: list[MatchedStatement] = []
        missing: dict[str, str] = {}
        for _resource, evaluation, _extra in outcomes:
            if evaluation.decision == decision:
                matched.extend(m for m in evaluation.matched_statements if m not in matched)
            for key in evaluation.missing_context_keys:
                missing.setdefault(key.lower(), key)
        result: dict[str, Any] = {
            "EvalActionName": action,
            "EvalResourceName": worst[0],
            "EvalDecision": decision,
            "MatchedStatements": [_statement(m, self.sources) for m in matched],
            "MissingContextValues": [missing[k] for k in sorted(missing)],
        }
        result.update(worst[2])
        if self.per_resource:
            result["ResourceSpecificResults"] = [
                {
                    "EvalResourceName": resource,
                    "EvalResourceDecision": evaluation.decision,
                    "MatchedStatements": [
                        _statement(m, self.sources) for m in evaluation.matched_statements
                    ],
                    "MissingContextValues": list(evaluation.missing_context_keys),
                    **extra,
                }
                for resource, evaluation, extra in outcomes
            ]
        return result


def simulate_custom_policy(params: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """SimulateCustomPolicy: boto3's parameters in, boto3's response dict out.

    Raises MalformedPolicyError for a policy IAM would reject (the API answers
    MalformedPolicyDocument), ValidationError / InvalidInput for other bad input.
    """
    check_parameters(params)
    actions = action_names(params)
    return _simulate(params, actions, _Simulation(params, now))


def simulate_principal_policy(
    params: Mapping[str, Any], stored: StoredPolicies, *, now: datetime
) -> dict[str, Any]:
    """SimulatePrincipalPolicy over ``stored`` (the PolicySourceArn's policies, already
    loaded, with PolicyExclusionList applied) plus the policies given as text.

    ``CallerArn`` should default to the PolicySourceArn; the caller fills it in.
    """
    check_parameters(params, PRINCIPAL_PARAMETERS, "SimulatePrincipalPolicy")
    actions = action_names(params)
    return _simulate(params, actions, _Simulation(params, now, stored))


def _simulate(
    params: Mapping[str, Any], actions: list[str], simulation: _Simulation
) -> dict[str, Any]:
    start, max_items = paging(params, len(actions))
    page = actions[start : start + max_items]
    response: dict[str, Any] = {
        "EvaluationResults": [simulation.result(action) for action in page],
        "IsTruncated": start + max_items < len(actions),
    }
    if response["IsTruncated"]:
        response["Marker"] = str(start + max_items)
    return response


def _any_policy(text: str, n: int) -> Policy:
    """A policy of whatever type: identity first, then resource-based, then trust."""
    policy_id = f"PolicyInputList.{n}"
    first = _compiled(text, PolicyKind.MANAGED, policy_id)
    if isinstance(first, Policy):
        return first
    for kind in (PolicyKind.RESOURCE, PolicyKind.TRUST):
        other = _compiled(text, kind, policy_id)
        if isinstance(other, Policy):
            return other
    raise first


def context_keys_for_custom_policy(params: Mapping[str, Any]) -> dict[str, Any]:
    """GetContextKeysForCustomPolicy: the keys the policies' conditions and variables read."""
    if not isinstance(params, Mapping):
        raise ValidationError(
            "The request must be an object of GetContextKeysForCustomPolicy parameters"
        )
    unknown = sorted(k for k in params if k != "PolicyInputList")
    if unknown:
        raise ValidationError(
            f"Unknown parameter(s) for GetContextKeysForCustomPolicy: {', '.join(unknown)}"
        )
    texts: Sequence[str] | None = string_list(params, "PolicyInputList", required=True)
    assert texts is not None
    policies = [_any_policy(text, n) for n, text in enumerate(texts, 1)]
    return {"ContextKeyNames": context_keys(policies)}


def context_keys_for_principal_policy(
    params: Mapping[str, Any], stored: StoredPolicies
) -> dict[str, Any]:
    """GetContextKeysForPrincipalPolicy: the keys of the stored policies and of any given."""
    allowed = frozenset({"PolicySourceArn", "PolicyInputList"})
    check_parameters(params, allowed, "GetContextKeysForPrincipalPolicy")
    texts = string_list(params, "PolicyInputList", required=False) or []
    policies = [*stored.identity, *((stored.boundary,) if stored.boundary else ())]
    policies += [_any_policy(text, n) for n, text in enumerate(texts, 1)]
    return {"ContextKeyNames": context_keys(policies)}
