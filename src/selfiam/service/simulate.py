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
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from selfiam.domain.errors import AwsError, InvalidInput, ValidationError
from selfiam.policy import (
    Evaluation,
    MalformedPolicyError,
    MatchedStatement,
    Policy,
    PolicyKind,
    PolicySet,
    Request,
    RequestContext,
    context_keys,
    evaluate,
    parse_policy,
)

__all__ = [
    "StoredPolicies",
    "clear_caches",
    "context_keys_for_custom_policy",
    "context_keys_for_principal_policy",
    "simulate_custom_policy",
    "simulate_principal_policy",
]

_PARAMETERS = frozenset(
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
_PRINCIPAL_PARAMETERS = (_PARAMETERS - {"OrderedOrganizationPolicyInputList"}) | {
    "PolicySourceArn",
    "PolicyExclusionList",
}
_CONTEXT_TYPES = frozenset(
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
_SOURCE_TYPES = {
    PolicyKind.MANAGED: "IAM Policy",
    PolicyKind.BOUNDARY: "Permissions Boundary Policy",
    PolicyKind.RESOURCE: "Resource Policy",
    PolicyKind.TRUST: "Resource Policy",
}
_RANK = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
_DEFAULT_MAX_ITEMS = 100
_ALLOW_ALL = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}'


# ---------------------------------------------------------------------------------------------
# Parsing, once per distinct text.


@lru_cache(maxsize=1024)
def _compiled(text: str, kind: PolicyKind, policy_id: str) -> Policy | MalformedPolicyError:
    """The parsed policy, or the error it raised (cached too: a bad text is parsed once)."""
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
    """A list of input policies, parsed and indexed once (``prefix.N`` names policy N)."""
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
# Input validation, with AWS's ValidationError wording.


def _null(member: str) -> AwsError:
    name = member[0].lower() + member[1:]
    return ValidationError(
        f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: "
        "Member must not be null"
    )


def _string_list(params: Mapping[str, Any], member: str, *, required: bool) -> list[str] | None:
    value = params.get(member)
    if value is None:
        if required:
            raise _null(member)
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError(f"{member} must be a list of non-empty strings")
    return value


def _optional_string(params: Mapping[str, Any], member: str) -> str | None:
    value = params.get(member)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{member} must be a non-empty string")
    return value


def _check_parameters(
    params: Mapping[str, Any],
    allowed: frozenset[str] = _PARAMETERS,
    operation: str = "SimulateCustomPolicy",
) -> None:
    if not isinstance(params, Mapping):
        raise ValidationError(f"The request must be an object of {operation} parameters")
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        raise ValidationError(f"Unknown parameter(s) for {operation}: {', '.join(unknown)}")
    if params.get("OrderedOrganizationPolicyInputList"):
        raise InvalidInput("Service control policies are not simulated by selfiam")


def _action_names(params: Mapping[str, Any]) -> list[str]:
    actions = _string_list(params, "ActionNames", required=True)
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


def _paging(params: Mapping[str, Any], total: int) -> tuple[int, int]:
    max_items = params.get("MaxItems", _DEFAULT_MAX_ITEMS)
    if isinstance(max_items, bool) or not isinstance(max_items, int) or not 1 <= max_items <= 1000:
        raise ValidationError(
            f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy "
            "constraint: Member must have value between 1 and 1000"
        )
    marker = params.get("Marker")
    start = 0
    if marker is not None:
        if not isinstance(marker, str) or not marker.isdigit() or int(marker) > total:
            raise InvalidInput("Invalid Marker: use the Marker of the previous response")
        start = int(marker)
    return start, max_items


# ---------------------------------------------------------------------------------------------
# The request context.


def _context_values(entry: Any) -> tuple[str, str | list[str]]:
    if not isinstance(entry, Mapping):
        raise ValidationError("Each ContextEntries item must be an object")
    name = entry.get("ContextKeyName")
    if not isinstance(name, str) or not 5 <= len(name) <= 256:
        raise ValidationError(
            "ContextKeyName must be a string of 5 to 256 characters, such as aws:username"
        )
    ctype = entry.get("ContextKeyType", "string")
    if ctype not in _CONTEXT_TYPES:
        raise ValidationError(
            f"1 validation error detected: Value '{ctype}' at 'contextEntries.member.contextKeyType'"
            f" failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(sorted(_CONTEXT_TYPES))}]"
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


def _account_of(arn: str | None) -> str | None:
    if not arn:
        return None
    if arn.isdigit() and len(arn) == 12:
        return arn
    parts = arn.split(":", 5)
    return (parts[4] or None) if len(parts) == 6 else None


def _request_context(
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
        account = _account_of(caller_arn)
        if account:
            defaults["aws:PrincipalAccount"] = account
    for key, value in defaults.items():
        if key.lower() not in given:
            values[key] = value
    return RequestContext(values)


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
        identity_texts = _string_list(params, "PolicyInputList", required=stored is None) or []
        boundary_texts = _string_list(params, "PermissionsBoundaryPolicyInputList", required=False)
        resources = _string_list(params, "ResourceArns", required=False) or ["*"]
        resource_text = _optional_string(params, "ResourcePolicy")
        self.caller_arn = _optional_string(params, "CallerArn")
        owner = _optional_string(params, "ResourceOwner")
        _optional_string(params, "ResourceHandlingOption")  # EC2 scenarios: accepted, unused
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
        self.owner_account = _account_of(owner)
        self.caller_account = _account_of(self.caller_arn)
        self.context = _request_context(params, self.caller_arn, now)

    def _request(self, action: str, resource: str, *, same_account: bool = False) -> Request:
        account = None
        if resource != "*" and not same_account:
            account = _account_of(resource) or self.owner_account
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
    _check_parameters(params)
    actions = _action_names(params)
    return _simulate(params, actions, _Simulation(params, now))


def simulate_principal_policy(
    params: Mapping[str, Any], stored: StoredPolicies, *, now: datetime
) -> dict[str, Any]:
    """SimulatePrincipalPolicy over ``stored`` (the PolicySourceArn's policies, already
    loaded, with PolicyExclusionList applied) plus the policies given as text.

    ``CallerArn`` should default to the PolicySourceArn; the caller fills it in.
    """
    _check_parameters(params, _PRINCIPAL_PARAMETERS, "SimulatePrincipalPolicy")
    actions = _action_names(params)
    return _simulate(params, actions, _Simulation(params, now, stored))


def _simulate(
    params: Mapping[str, Any], actions: list[str], simulation: _Simulation
) -> dict[str, Any]:
    start, max_items = _paging(params, len(actions))
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
    texts: Sequence[str] | None = _string_list(params, "PolicyInputList", required=True)
    assert texts is not None
    policies = [_any_policy(text, n) for n, text in enumerate(texts, 1)]
    return {"ContextKeyNames": context_keys(policies)}


def context_keys_for_principal_policy(
    params: Mapping[str, Any], stored: StoredPolicies
) -> dict[str, Any]:
    """GetContextKeysForPrincipalPolicy: the keys of the stored policies and of any given."""
    allowed = frozenset({"PolicySourceArn", "PolicyInputList"})
    _check_parameters(params, allowed, "GetContextKeysForPrincipalPolicy")
    texts = _string_list(params, "PolicyInputList", required=False) or []
    policies = [*stored.identity, *((stored.boundary,) if stored.boundary else ())]
    policies += [_any_policy(text, n) for n, text in enumerate(texts, 1)]
    return {"ContextKeyNames": context_keys(policies)}
