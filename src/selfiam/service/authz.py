"""Authorization: build the request context, ask the policy engine, word the denial as AWS does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from selfiam.policy import Evaluation, Policy, PolicySet, Request, RequestContext, evaluate
from selfiam.service.principals import PrincipalPolicies

if TYPE_CHECKING:
    from selfiam.service.caller import Caller, RequestInfo
    from selfiam.service.context import OperationContext


@dataclass(frozen=True, slots=True)
class Decision:
    caller_arn: str
    action: str
    resource: str
    evaluation: Evaluation
    denied_by_boundary: bool = False

    def denial_message(self) -> str:
        """AWS's AccessDenied wording for IAM; STS's gives no reason."""
        head = (
            f"User: {self.caller_arn} is not authorized to perform: {self.action} "
            f"on resource: {self.resource}"
        )
        if self.action.startswith("sts:"):
            return head
        if self.evaluation.decision == "explicitDeny":
            kinds = {m.policy_kind.name for m in self.evaluation.matched_statements}
            where = (
                "a permissions boundary" if kinds == {"BOUNDARY"} else "an identity-based policy"
            )
            return f"{head} with an explicit deny in {where}"
        if self.denied_by_boundary:
            return f"{head} because no permissions boundary allows the {self.action} action"
        return f"{head} because no identity-based policy allows the {self.action} action"


_NO_POLICIES = PrincipalPolicies(PolicySet(()))
_ALLOWED_AS_ROOT = Evaluation(decision="allowed", matched_statements=(), missing_context_keys=())


def request_context(
    caller: Caller,
    info: RequestInfo,
    *,
    resource_tags: Mapping[str, str] | None = None,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> RequestContext:
    """The global condition keys AWS puts in an IAM request's context."""
    now = info.now
    values: dict[str, str | Sequence[str]] = {
        "aws:PrincipalArn": caller.principal_arn,
        "aws:PrincipalAccount": caller.account_id,
        "aws:PrincipalType": caller.principal_type,
        "aws:SourceIp": info.source_ip,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": "true" if info.secure_transport else "false",
        "aws:RequestedRegion": info.region,
        "aws:userid": caller.unique_id,
    }
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
    if resource_tags:
        for key, value in resource_tags.items():
            values[f"aws:ResourceTag/{key}"] = value
    if request_tags is not None:
        for key, value in request_tags.items():
            values[f"aws:RequestTag/{key}"] = value
        values["aws:TagKeys"] = list(request_tags)
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
        principal = _NO_POLICIES  # a federated principal: only a resource policy can allow
    else:
        principal = ctx.runtime.principal_policies(ctx.conn, caller, ctx.info.policy_version)
    context = request_context(
        caller,
        ctx.info,
        resource_tags=resource_tags,
        request_tags=request_tags,
        extra_context=extra_context,
    )
    request = Request(
        action=action,
        resource=resource,
        context=context,
        principal_arn=caller.arn,
        principal_account=caller.account_id,
        resource_account=caller.account_id,
    )
    session = caller.session_policies if caller.session_policies is not None else principal.session
    evaluation = evaluate(
        request,
        principal.identity,
        boundary=principal.boundary,
        session=session,
        resource_policy=resource_policy,
    )
    by_boundary = False
    if evaluation.decision == "implicitDeny" and principal.boundary is not None:
        by_boundary = evaluate(request, principal.identity).decision == "allowed"
    return Decision(caller.arn, action, resource, evaluation, by_boundary)
