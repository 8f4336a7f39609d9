"""Authorization: build the request context, ask the policy engine, word the denial as AWS does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from selfiam.policy import Evaluation, Policy, PolicySet, Request, RequestContext, evaluate

if TYPE_CHECKING:
    from selfiam.service.caller import Caller, RequestInfo
    from selfiam.service.context import OperationContext


#: Which kind of policy an explicit deny is reported in, by the kinds of the denying
#: statements, first match wins (AWS names one kind only).
_DENY_KINDS = (
    (
        frozenset({"MANAGED", "INLINE_USER", "INLINE_GROUP", "INLINE_ROLE"}),
        "an identity-based policy",
    ),
    (frozenset({"BOUNDARY"}), "a permissions boundary"),
    (frozenset({"SESSION"}), "a session policy"),
    (frozenset({"RESOURCE", "TRUST"}), "a resource-based policy"),
)
IDENTITY = "identity-based policy"
BOUNDARY = "permissions boundary"
SESSION = "session policy"


@dataclass(frozen=True, slots=True)
class Decision:
    """``implicit_by`` names the kind of policy that failed to allow an implicit deny
    ("identity-based policy", "permissions boundary", "session policy")."""

    caller_arn: str
    action: str
    resource: str
    evaluation: Evaluation
    implicit_by: str = IDENTITY
    #: AWS's own wording where it differs (AssumeRoleWithWebIdentity names no caller).
    message: str | None = None

    def denial_message(self) -> str:
        """AWS's AccessDenied wording for IAM ("Troubleshoot access denied error
        messages": "with an explicit deny in a TYPE policy", "because no TYPE policy
        allows the ACTION action"); STS's gives no reason."""
        if self.message is not None:
            return self.message
        head = (
            f"User: {self.caller_arn} is not authorized to perform: {self.action} "
            f"on resource: {self.resource}"
        )
        if self.action.startswith("sts:"):
            return head
        if self.evaluation.decision == "explicitDeny":
            kinds = {
                m.policy_kind.name for m in self.evaluation.matched_statements if m.effect == "Deny"
            }
            where = next(
                (name for group, name in _DENY_KINDS if kinds & group), "an identity-based policy"
            )
            return f"{head} with an explicit deny in {where}"
        return f"{head} because no {self.implicit_by} allows the {self.action} action"


_ALLOWED_AS_ROOT = Evaluation(decision="allowed", matched_statements=(), missing_context_keys=())
_NOT_ALLOWED = Evaluation(decision="implicitDeny", matched_statements=(), missing_context_keys=())
#: GetFederationToken's credentials "cannot call any IAM operations using the AWS CLI or
#: the AWS API" nor "any AWS STS operations except GetCallerIdentity" (STS API Reference),
#: whatever the policies say; other services' actions (``verify``) are evaluated.
_NOT_FOR_FEDERATED_USERS = frozenset({"iam", "sts"})


def request_tag_context(tags: Mapping[str, str]) -> dict[str, str | Sequence[str]]:
    """The keys a request's tags add to its context: ``aws:RequestTag/KEY``, ``aws:TagKeys``."""
    values: dict[str, str | Sequence[str]] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    values["aws:TagKeys"] = list(tags)
    return values


#: IAM is a global service whose one endpoint is in us-east-1: AWS reports every IAM
#: request's aws:RequestedRegion as us-east-1 ("AWS: Denies access to AWS based on the
#: requested Region"), whatever region the client signed for. STS is regional: the
#: credential scope's region.
IAM_REGION = "us-east-1"
#: The resource types whose tags AWS also offers as ``iam:ResourceTag/KEY`` (the Service
#: Authorization Reference: "tags attached to an IAM entity (user or role)").
_IAM_TAGGED_ENTITIES = frozenset({"user", "role"})


def requested_region(action: str | None, info: RequestInfo) -> str:
    """aws:RequestedRegion: us-east-1 for IAM's global endpoint, else the signed region."""
    if action is not None and action.partition(":")[0] == "iam":
        return IAM_REGION
    return info.region


def resource_facts(resource: str | None) -> tuple[str | None, str | None]:
    """(account, resource type) of an ARN such as ``arn:aws:iam::123456789012:user/x``;
    (None, None) for "*" and for AWS's own resources (``arn:aws:iam::aws:policy/...``)."""
    if resource is None:
        return None, None
    parts = resource.split(":", 5)
    if len(parts) < 6 or not (len(parts[4]) == 12 and parts[4].isdigit()):
        return None, None
    return parts[4], parts[5].partition("/")[0]


def resource_tag_context(resource: str, tags: Mapping[str, str]) -> dict[str, str]:
    """The keys a resource's tags add: ``aws:ResourceTag/KEY``, and for a user or a role
    ``iam:ResourceTag/KEY`` as well."""
    also_iam = resource_facts(resource)[1] in _IAM_TAGGED_ENTITIES
    values: dict[str, str] = {}
    for key, value in tags.items():
        values[f"aws:ResourceTag/{key}"] = value
        if also_iam:
            values[f"iam:ResourceTag/{key}"] = value
    return values


def request_context(
    caller: Caller,
    info: RequestInfo,
    *,
    resource_tags: Mapping[str, str] | None = None,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
    action: str | None = None,
    resource: str | None = None,
) -> RequestContext:
    """The condition keys AWS puts in an IAM or STS request's context (the full table,
    with AWS's references: docs/condition-keys.md).

    A direct call carries ``aws:ViaAWSService`` and ``aws:PrincipalIsAWSService`` as
    false and no ``aws:CalledVia``/``aws:CalledViaFirst``/``aws:CalledViaLast`` (no AWS
    service calls selfiam on anyone's behalf)."""
    now = info.now
    values: dict[str, str | Sequence[str]] = {
        "aws:PrincipalArn": caller.principal_arn,
        "aws:PrincipalAccount": caller.account_id,
        "aws:PrincipalType": caller.principal_type,
        "aws:SourceIp": info.source_ip,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": "true" if info.secure_transport else "false",
        "aws:RequestedRegion": requested_region(action, info),
        "aws:userid": caller.unique_id,
        "aws:ViaAWSService": "false",
        "aws:PrincipalIsAWSService": "false",
    }
    resource_account = resource_facts(resource)[0]
    if resource_account is not None:
        values["aws:ResourceAccount"] = resource_account
    if caller.token_issued_at is not None:
        values["aws:TokenIssueTime"] = caller.token_issued_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if caller.source_identity is not None:
        values["aws:SourceIdentity"] = caller.source_identity
    if info.user_agent:
        values["aws:UserAgent"] = info.user_agent
    if caller.user_name is not None:
        values["aws:username"] = caller.user_name
    if caller.is_temporary or caller.via_console:
        # Only STS credentials and console sessions carry MFA facts; long-term keys never do.
        present = caller.mfa_authenticated_at is not None
        values["aws:MultiFactorAuthPresent"] = "true" if present else "false"
        if caller.mfa_authenticated_at is not None:
            age = max(0, int((now - caller.mfa_authenticated_at).total_seconds()))
            values["aws:MultiFactorAuthAge"] = str(age)
    elif caller.mfa_authenticated_at is not None:
        values["aws:MultiFactorAuthPresent"] = "true"
        age = max(0, int((now - caller.mfa_authenticated_at).total_seconds()))
        values["aws:MultiFactorAuthAge"] = str(age)
    for key, value in caller.principal_tags:
        values[f"aws:PrincipalTag/{key}"] = value
    if resource_tags and resource is not None:
        values.update(resource_tag_context(resource, resource_tags))
    elif resource_tags:
        values.update({f"aws:ResourceTag/{k}": v for k, v in resource_tags.items()})
    if request_tags is not None:
        values.update(request_tag_context(request_tags))
    if extra_context:
        values.update(extra_context)
    return RequestContext(values)


def decide(
    ctx: OperationContext,
    action: str,
    resource: str,
    *,
    resource_tags: Mapping[str, str] | None = None,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
    resource_policy: Policy | None = None,
) -> Decision:
    """``resource_policy`` is the resource's own policy (a role's trust policy for
    sts:AssumeRole), evaluated with the caller's as AWS does in one account."""
    caller = ctx.caller
    if caller.is_root:
        return Decision(caller.arn, action, resource, _ALLOWED_AS_ROOT)
    if caller.anonymous:
        return Decision(caller.arn, action, resource, _NOT_ALLOWED)
    if caller.is_federated and action.partition(":")[0] in _NOT_FOR_FEDERATED_USERS:
        return Decision(caller.arn, action, resource, _NOT_ALLOWED)
    principal = ctx.runtime.principal_policies(ctx.conn, caller, ctx.info.feed_read)
    context = request_context(
        caller,
        ctx.info,
        resource_tags=resource_tags,
        request_tags=request_tags,
        extra_context=extra_context,
        action=action,
        resource=resource,
    )
    request = Request(
        action=action,
        resource=resource,
        context=context,
        principal_arn=caller.arn,
        principal_account=caller.account_id,
        resource_account=caller.account_id,
        principal_id=caller.role_id or caller.user_id,
    )
    session = caller.session_policies if caller.session_policies is not None else principal.session
    evaluation = evaluate(
        request,
        principal.identity,
        boundary=principal.boundary,
        session=session,
        resource_policy=resource_policy,
    )
    implicit_by = IDENTITY
    if evaluation.decision == "implicitDeny" and not action.startswith("sts:"):
        implicit_by = _failed_to_allow(request, principal.identity, principal.boundary, session)
    return Decision(caller.arn, action, resource, evaluation, implicit_by)


def _failed_to_allow(
    request: Request, identity: PolicySet, boundary: PolicySet | None, session: PolicySet | None
) -> str:
    """The kind of policy an implicit deny is reported against: the identity-based
    policies if they do not allow, else the boundary if it does not, else the session
    policies (AWS names one kind)."""
    if (boundary is None and session is None) or not evaluate(request, identity).allowed:
        return IDENTITY
    if boundary is not None and not evaluate(request, identity, boundary=boundary).allowed:
        return BOUNDARY
    return SESSION if session is not None else IDENTITY


def decide_federated(
    info: RequestInfo,
    principal_arn: str,
    account_id: str,
    action: str,
    resource: str,
    trust: Policy,
    context: Mapping[str, str | Sequence[str]],
    denial: str | None,
) -> Decision:
    """A federated principal (an identity provider's ARN) against a role's trust policy:
    it has no identity-based policies, so only a statement naming it can allow."""
    now = info.now
    values: dict[str, str | Sequence[str]] = {
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SourceIp": info.source_ip,
        "aws:SecureTransport": "true" if info.secure_transport else "false",
        "aws:RequestedRegion": requested_region(action, info),
        "aws:ViaAWSService": "false",
        "aws:PrincipalIsAWSService": "false",
    }
    resource_account, _ = resource_facts(resource)
    if resource_account is not None:
        values["aws:ResourceAccount"] = resource_account
    if info.user_agent:
        values["aws:UserAgent"] = info.user_agent
    values.update(context)
    request = Request(
        action=action,
        resource=resource,
        context=RequestContext(values),
        principal_arn=principal_arn,
        principal_account=account_id,
        resource_account=account_id,
    )
    evaluation = evaluate(request, (), resource_policy=trust)
    return Decision(principal_arn, action, resource, evaluation, message=denial)
