"""The policy simulator: SimulateCustomPolicy, SimulatePrincipalPolicy and their context keys.

The evaluation itself is the pure :mod:`selfiam.service.simulate`; this module authorizes
(``*`` for the custom operations, the PolicySourceArn for the principal ones, as AWS's
service authorization reference lists them), loads the entity's stored policies and
names each one as AWS's simulator does in MatchedStatements:

* an inline policy: its name, type ``user`` / ``group`` / ``role`` (the entity it is in);
* a managed policy (attached, or the permissions boundary): its ARN, type ``aws-managed``
  or ``user-managed``.

For a user the simulation includes the policies of the user's groups and the user's
permissions boundary — the same set :func:`selfiam.service.principals.load_user_policies`
gives the authorizer — so a simulation agrees with what a real request is told, given
the same request context. As in AWS, the simulator fills in no context key of its own
beyond the time and the caller's ARN: ``aws:username``, ``aws:MultiFactorAuthPresent`` and
the like come from ContextEntries, and policies that read them without a value list them
in MissingContextValues.

PolicyExclusionList leaves stored policies out: by type (``inline``, ``aws-managed``,
``user-managed``, ``permission-boundary``; ``scp`` and ``rcp`` match nothing here), by
managed policy ARN, or by inline policy name and entity, ``*``/``?`` wildcards as AWS
allows them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import ArnError, IamArn, parse_iam_arn
from selfiam.domain.errors import AwsError, InvalidInput, MalformedPolicyDocument, NoSuchEntity
from selfiam.policy import MalformedPolicyError, Policy
from selfiam.policy.globs import compile_glob
from selfiam.policy.variables import policy_text_to_glob
from selfiam.service.context import OperationContext
from selfiam.service.operations import tags as tagging
from selfiam.service.principals import (
    INLINE_KINDS,
    attached_policies,
    inline_policies,
    managed_policy_by_arn,
    user_groups,
)
from selfiam.service.registry import operation
from selfiam.service.simulate import (
    StoredPolicies,
    context_keys_for_custom_policy,
    context_keys_for_principal_policy,
    simulate_custom_policy,
    simulate_principal_policy,
)
from selfiam.store import tables as t

_ENTITY_TABLES = {"user": t.users, "group": t.groups, "role": t.roles}
_POLICY_TYPES = ("inline", "aws-managed", "user-managed", "permission-boundary", "scp", "rcp")


@dataclass(frozen=True, slots=True)
class _Source:
    """One stored policy and what identifies it (for MatchedStatements and exclusions)."""

    policy: Policy
    source_id: str
    source_type: str
    arn: str | None = None  # managed policies
    entity: tuple[str, str] | None = None  # inline policies: (entity type, entity name)
    boundary: bool = False


def _managed_type(arn: str) -> str:
    return "aws-managed" if arn.split(":")[4] == "aws" else "user-managed"


def _inline_sources(conn: Connection, entity_type: str, entity_id: str, name: str) -> list[_Source]:
    return [
        _Source(policy, policy_name, entity_type, entity=(entity_type, name))
        for policy_name, policy in inline_policies(conn, entity_type, entity_id, name, ordered=True)
    ]


def _managed_sources(conn: Connection, entity_type: str, entity_id: str) -> list[_Source]:
    return [
        _Source(policy, arn, _managed_type(arn), arn=arn)
        for arn, policy in attached_policies(conn, entity_type, entity_id, ordered=True)
    ]


def _boundary_source(conn: Connection, arn: str | None) -> list[_Source]:
    if not arn:
        return []
    policy = managed_policy_by_arn(conn, arn)
    if policy is None:
        return []
    return [_Source(policy, arn, _managed_type(arn), arn=arn, boundary=True)]


def _entity_sources(conn: Connection, entity_type: str, row: Any) -> list[_Source]:
    entity_id = getattr(row, f"{entity_type}_id")
    sources = _inline_sources(conn, entity_type, entity_id, row.name)
    sources += _managed_sources(conn, entity_type, entity_id)
    if entity_type == "user":
        for group_id, group_name in user_groups(conn, entity_id, ordered=True):
            sources += _inline_sources(conn, "group", group_id, group_name)
            sources += _managed_sources(conn, "group", group_id)
    if entity_type in ("user", "role"):
        sources += _boundary_source(conn, row.permissions_boundary_arn)
    return sources


# -- PolicyExclusionList ---------------------------------------------------------------


def _wildcard(pattern: str, what: str, *, ignore_case: bool = False) -> Callable[[str], bool]:
    if pattern.count("*") > 1:
        raise InvalidInput(f"{what} {pattern} is not valid: use at most one * wildcard.")
    return compile_glob(policy_text_to_glob(pattern), ignore_case)


def _excluder(item: Mapping[str, Any]) -> Any:
    """A predicate over _Source for one PolicyIdentifier (exactly one member must be set)."""
    given = [k for k in ("PolicyType", "PolicyArn", "InlinePolicyIdentifier") if item.get(k)]
    if len(given) != 1:
        raise InvalidInput(
            "Each PolicyExclusionList entry must give exactly one of PolicyType, PolicyArn "
            "or InlinePolicyIdentifier."
        )
    if given == ["PolicyType"]:
        kind = str(item["PolicyType"])
        if kind not in _POLICY_TYPES:
            raise InvalidInput(f"Policy type {kind} is not valid.")
        if kind == "inline":
            return lambda s: s.entity is not None
        if kind == "permission-boundary":
            return lambda s: s.boundary
        return lambda s: s.source_type == kind and not s.boundary
    if given == ["PolicyArn"]:
        arn = str(item["PolicyArn"])
        prefix, slash, _name = arn.partition(":policy/")
        parts = prefix.split(":")
        if not slash or len(parts) != 5 or parts[:3] != ["arn", "aws", "iam"] or parts[3]:
            raise InvalidInput(f"ARN {arn} is not valid.")
        if any(ch in prefix for ch in "*?"):
            raise InvalidInput(f"ARN {arn} is not valid: wildcards only in the resource name.")
        pattern = _wildcard(arn, "ARN")
        return lambda s: s.arn is not None and not s.boundary and pattern(s.arn)
    inline = item["InlinePolicyIdentifier"]
    entity_type = str(inline.get("AttachmentType") or "")
    policy_name = str(inline.get("PolicyName") or "")
    if entity_type not in INLINE_KINDS or not policy_name:
        raise InvalidInput(
            "InlinePolicyIdentifier needs PolicyName, AttachmentType (user, group or role) "
            "and AttachmentName."
        )
    names = _wildcard(str(inline.get("AttachmentName") or ""), "AttachmentName", ignore_case=True)
    return lambda s: (
        s.entity is not None
        and s.entity[0] == entity_type
        and s.source_id == policy_name
        and names(s.entity[1])
    )


def _exclude(sources: list[_Source], items: Any) -> list[_Source]:
    if not items:
        return sources
    excluders = [_excluder(item) for item in items]
    return [s for s in sources if not any(test(s) for test in excluders)]


# -- the source entity -----------------------------------------------------------------


def _source_arn(value: Any) -> IamArn:
    arn = str(value)
    try:
        parsed = parse_iam_arn(arn)
    except ArnError:
        raise InvalidInput(f"ARN {arn} is not valid.") from None
    if parsed.service != "iam" or parsed.resource_type not in _ENTITY_TABLES:
        raise InvalidInput(f"ARN {arn} is not valid.")
    return parsed


def _authorize_source(ctx: OperationContext, params: Mapping[str, Any]) -> list[_Source]:
    """Authorize against PolicySourceArn, then load the entity's policies (NoSuchEntity after)."""
    arn = str(params["PolicySourceArn"])
    parsed = _source_arn(arn)
    table = _ENTITY_TABLES[parsed.resource_type]
    row = None
    if parsed.account == ctx.account_id:
        row = ctx.conn.execute(
            select(table).where(
                table.c.account_id == ctx.account_id,
                table.c.name_lower == parsed.name.lower(),
                table.c.path == parsed.path,
            )
        ).first()
    resource_tags = None
    if row is not None and parsed.resource_type in ("user", "role"):
        entity_id = getattr(row, f"{parsed.resource_type}_id")
        resource_tags = tagging.load_tags(ctx.conn, parsed.resource_type, entity_id)
    ctx.authorize(arn, resource_tags=resource_tags)
    if row is None:
        raise NoSuchEntity(f"The {parsed.resource_type} with name {parsed.name} cannot be found.")
    return _entity_sources(ctx.conn, parsed.resource_type, row)


def _stored(sources: list[_Source]) -> StoredPolicies:
    boundary = next((s.policy for s in sources if s.boundary), None)
    return StoredPolicies(
        identity=tuple(s.policy for s in sources if not s.boundary),
        boundary=boundary,
        sources={s.policy.policy_id: (s.source_id, s.source_type) for s in sources},
    )


def _malformed(err: MalformedPolicyError) -> AwsError:
    """AWS's words for the API, selfiam's precise explanation as the detail."""
    return MalformedPolicyDocument(err.aws_message, detail=err.message)


# -- operations ------------------------------------------------------------------------


@operation("SimulateCustomPolicy", writes=False)
def simulate_custom(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    try:
        return simulate_custom_policy(params, now=ctx.info.now)
    except MalformedPolicyError as err:
        raise _malformed(err) from None


@operation("GetContextKeysForCustomPolicy", writes=False)
def context_keys_custom(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    try:
        return context_keys_for_custom_policy(params)
    except MalformedPolicyError as err:
        raise _malformed(err) from None


@operation("SimulatePrincipalPolicy", writes=False)
def simulate_principal(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    sources = _exclude(_authorize_source(ctx, params), params.get("PolicyExclusionList"))
    request = dict(params)
    if not request.get("CallerArn"):
        request["CallerArn"] = str(params["PolicySourceArn"])
    try:
        answer = simulate_principal_policy(request, _stored(sources), now=ctx.info.now)
    except MalformedPolicyError as err:
        raise _malformed(err) from None
    # AWS's recorded answers carry the Organizations decision too; an account in no
    # organization has no service control policy that could deny.
    for result in answer["EvaluationResults"]:
        result["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": True}
    return answer


@operation("GetContextKeysForPrincipalPolicy", writes=False)
def context_keys_principal(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    sources = _authorize_source(ctx, params)
    try:
        return context_keys_for_principal_policy(params, _stored(sources))
    except MalformedPolicyError as err:
        raise _malformed(err) from None
