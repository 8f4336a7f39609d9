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
* Paging (``MaxItems``, default 100, and ``Marker``) is over actions: the i-th result is
  computed from action i alone, so a page costs its own actions, never the whole request.
  A page also stops early when its work would pass ``simulation_cost.PAGE_STEPS`` (AWS
  documents that fewer than MaxItems may come back with IsTruncated); a Marker is opaque,
  names the next action and is valid only for the ActionNames and ResourceArns it came
  from (``Invalid Marker.`` otherwise).
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
input position, bounded by the size of the text it holds), and each distinct list of
policies is indexed once, so a batch of thousands
of requests, or the pages of one request, spend their time evaluating, not parsing. One
result's work (one action over every resource) is bounded from above before any is computed
(``simulation_cost``); a request whose single result would cost more than a page is refused
with InvalidInput.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
from selfiam.service.simulation_cache import SizedCache
from selfiam.service.simulation_cost import (
    action_steps,
    check_result_steps,
    decision_steps,
    page_size,
)
from selfiam.service.simulation_input import (
    PRINCIPAL_PARAMETERS,
    account_of,
    action_names,
    check_parameters,
    encode_marker,
    max_items,
    optional_string,
    request_context,
    request_digest,
    start_of,
    string_list,
)

__all__ = [
    "StoredPolicies",
    "clear_caches",
    "custom_policy_results",
    "evaluations",
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


#: Parsed texts (and the errors of bad ones): at most 4 MiB of policy text.
_PARSED: SizedCache[tuple[str, PolicyKind, str], Policy | MalformedPolicyError] = SizedCache(
    1024, 4 << 20
)
#: Indexed lists of input policies: at most 2 MiB of policy text (their parsed statements
#: and per-action candidates are what costs memory).
_SETS: SizedCache[tuple[tuple[str, ...], PolicyKind, str], PolicySet] = SizedCache(256, 2 << 20)


def _compiled(text: str, kind: PolicyKind, policy_id: str) -> Policy | MalformedPolicyError:
    """The parsed policy, or the error it raised (cached too: a bad text is parsed once).

    Bounded by ``_PARSED`` (count and text size), filled only by authenticated and
    authorized simulations; no age bound: a text's parse never goes stale.
    """

    def parse() -> Policy | MalformedPolicyError:
        try:
            return parse_policy(text, kind, policy_id)
        except MalformedPolicyError as exc:
            return exc.with_traceback(None)

    return _PARSED.get((text, kind, policy_id), len(text), parse)


def _parse(text: str, kind: PolicyKind, policy_id: str) -> Policy:
    result = _compiled(text, kind, policy_id)
    if isinstance(result, MalformedPolicyError):
        raise result
    return result


def _policy_set(texts: tuple[str, ...], kind: PolicyKind, prefix: str) -> PolicySet:
    """A list of input policies, parsed and indexed once (``prefix.N`` names policy N)."""

    def index() -> PolicySet:
        return PolicySet(_parse(text, kind, f"{prefix}.{n}") for n, text in enumerate(texts, 1))

    return _SETS.get((texts, kind, prefix), sum(map(len, texts)), index)


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
    _PARSED.clear()
    _SETS.clear()


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


class _Counter:
    """Evaluations done by the simulator in this process (tests read it to count work)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


evaluations = _Counter()


class _Simulation:
    """One call's parsed inputs; `result(i)` builds the EvaluationResult of the i-th action
    name (every resource of it) from its index alone."""

    def __init__(
        self, params: Mapping[str, Any], now: datetime, stored: StoredPolicies | None = None
    ) -> None:
        self.actions = action_names(params)
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
        self.total = len(self.actions)
        steps = decision_steps(
            self.identity.policies,
            self.boundary.policies if self.boundary is not None else (),
            (self.resource_policy,) if self.resource_policy is not None else (),
            self.context,
            cross_account=self.caller_account is not None,
        )
        self.steps = action_steps(steps, self.resources)
        check_result_steps(self.steps)

    def _evaluate(
        self,
        request: Request,
        identity: PolicySet,
        *,
        boundary: PolicySet | None = None,
        resource_policy: Policy | None = None,
    ) -> Evaluation:
        evaluations.value += 1
        return evaluate(request, identity, boundary=boundary, resource_policy=resource_policy)

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
            "IAM Policy": self._evaluate(alone, self.identity, boundary=self.boundary).decision
        }
        if self.resource_policy is not None:
            everything = _policy_set((_ALLOW_ALL,), PolicyKind.MANAGED, "AllowAll")
            decision = self._evaluate(request, everything, resource_policy=self.resource_policy)
            details["Resource Policy"] = decision.decision
        return details

    def _one(self, action: str, resource: str) -> tuple[Evaluation, dict[str, Any]]:
        request = self._request(action, resource)
        evaluation = self._evaluate(
            request, self.identity, boundary=self.boundary, resource_policy=self.resource_policy
        )
        extra: dict[str, Any] = {}
        details = self._details(action, resource, request)
        if details is not None:
            extra["EvalDecisionDetails"] = details
        if self.boundary is not None:
            alone = self._request(action, resource, same_account=True)
            allowed = self._evaluate(alone, self.boundary).decision == "allowed"
            extra["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": allowed}
        return evaluation, extra

    def result(self, index: int) -> dict[str, Any]:
        action = self.actions[index]
        outcomes = [(resource, *self._one(action, resource)) for resource in self.resources]
        worst = max(outcomes, key=lambda o: _RANK[o[1].decision])
        decision = worst[1].decision
        # The statements of every resource decided like the aggregate, each once, in the
        # order first seen (a dict: a list's `in` made this quadratic in the resources).
        matched: dict[MatchedStatement, None] = {}
        missing: dict[str, str] = {}
        for _resource, evaluation, _extra in outcomes:
            if evaluation.decision == decision:
                matched.update(dict.fromkeys(evaluation.matched_statements))
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

    def results(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        return (self.result(i) for i in range(start, stop))


def simulate_custom_policy(params: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """SimulateCustomPolicy: boto3's parameters in, boto3's response dict out (one page).

    Raises MalformedPolicyError for a policy IAM would reject (the API answers
    MalformedPolicyDocument), ValidationError / InvalidInput for other bad input.
    """
    check_parameters(params)
    return _page(params, _Simulation(params, now))


def simulate_principal_policy(
    params: Mapping[str, Any], stored: StoredPolicies, *, now: datetime
) -> dict[str, Any]:
    """SimulatePrincipalPolicy over ``stored`` (the PolicySourceArn's policies, already
    loaded, with PolicyExclusionList applied) plus the policies given as text.

    ``CallerArn`` should default to the PolicySourceArn; the caller fills it in.
    """
    check_parameters(params, PRINCIPAL_PARAMETERS, "SimulatePrincipalPolicy")
    return _page(params, _Simulation(params, now, stored))


def custom_policy_results(params: Mapping[str, Any], *, now: datetime) -> Iterator[dict[str, Any]]:
    """Every EvaluationResult of a SimulateCustomPolicy request, in order, one at a time
    (the CLI's batches: memory stays that of one result, however many the actions).

    The request is checked before this returns; Marker and MaxItems are ignored.
    """
    check_parameters(params)
    simulation = _Simulation(params, now)
    return simulation.results(0, simulation.total)


def _page(params: Mapping[str, Any], simulation: _Simulation) -> dict[str, Any]:
    """The page the Marker asks for: at most MaxItems results (actions) and PAGE_STEPS of
    work."""
    limit = max_items(params)
    digest = request_digest(params)
    start = start_of(params, simulation.total, digest)
    stop = start + page_size(limit, simulation.total - start, simulation.steps)
    response: dict[str, Any] = {
        "EvaluationResults": list(simulation.results(start, stop)),
        "IsTruncated": stop < simulation.total,
    }
    if response["IsTruncated"]:
        response["Marker"] = encode_marker(stop, digest)
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
