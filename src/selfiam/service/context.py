"""What an operation handler works with: one transaction, the caller, and authorization."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

from sqlalchemy.engine import Connection

from selfiam.domain.errors import AccessDenied
from selfiam.policy import Evaluation, Policy
from selfiam.service.authz import Decision, decide, decide_federated
from selfiam.service.caller import Caller, RequestInfo

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime


@dataclass
class OperationContext:
    """One operation in progress.

    Every handler starts with ``authorize``; the decision (and the resource it
    was about) is kept for the audit record the runtime writes afterwards.
    """

    runtime: Runtime
    conn: Connection
    caller: Caller
    info: RequestInfo
    action: str
    decision: str | None = None
    resource: str | None = None
    auth_changed: bool = False
    policy_changed: bool = False
    audit_note: str | None = None
    #: Set by a secret check that counted a failure (service/throttle.py): the runtime
    #: commits the transaction even though the operation fails, so the count holds.
    #: Such a check comes before the operation writes anything else.
    commit_on_error: bool = False
    #: The audit trail's error code when it must differ from the one the caller is
    #: told (an attempt refused by a throttle looks like a wrong secret to the caller).
    audit_error_code: str | None = None
    #: (account, provider ARN) once ``authorize_federated`` has been asked: the principal
    #: an unsigned request acts as, and what its audit record names.
    federated_principal: tuple[str, str] | None = None
    _decisions: list[Decision] = field(default_factory=list)

    @property
    def account_id(self) -> str:
        return self.caller.account_id

    def authorize(
        self,
        resource: str,
        *,
        action: str | None = None,
        resource_tags: Mapping[str, str] | None = None,
        request_tags: Mapping[str, str] | None = None,
        extra_context: Mapping[str, str | Sequence[str]] | None = None,
        resource_policy: Policy | None = None,
    ) -> None:
        """Ask the policy engine; raise AccessDenied (AWS's message) unless allowed."""
        act = action or self.action
        decision = decide(
            self,
            act,
            resource,
            resource_tags=resource_tags,
            request_tags=request_tags,
            extra_context=extra_context,
            resource_policy=resource_policy,
        )
        self._record(decision)

    def authorize_federated(
        self,
        resource: str,
        *,
        principal_arn: str,
        account_id: str,
        trust: Policy,
        context: Mapping[str, str | Sequence[str]],
        denial: str | None,
        action: str | None = None,
    ) -> None:
        """As ``authorize``, for a principal that is an identity provider (a web identity
        token's issuer, a SAML provider) rather than the caller; AccessDenied says
        ``denial`` (None: "User: PROVIDER is not authorized to perform: ...")."""
        self.federated_principal = (account_id, principal_arn)
        self._record(
            decide_federated(
                self.info,
                principal_arn,
                account_id,
                action or self.action,
                resource,
                trust,
                context,
                denial,
            )
        )

    def refuse(
        self, resource: str, *, action: str | None = None, message: str | None = None
    ) -> NoReturn:
        """Deny without asking the engine: a resource with no policy that could allow
        (AssumeRole of a role that does not exist: AWS answers AccessDenied, not
        NoSuchEntity, so that existence is not revealed)."""
        nothing = Evaluation(
            decision="implicitDeny", matched_statements=(), missing_context_keys=()
        )
        decision = Decision(
            self.caller.arn, action or self.action, resource, nothing, message=message
        )
        self._record(decision)
        raise AccessDenied(decision.denial_message())  # _record raised already

    def _record(self, decision: Decision) -> None:
        self._decisions.append(decision)
        self.resource = decision.resource
        self.decision = decision.evaluation.decision
        if self.decision != "allowed":
            raise AccessDenied(decision.denial_message())

    def changed_authorization(self) -> None:
        """Mark that this operation changes who may do what: a principal's policies, or
        who a principal is (both versions are bumped on commit)."""
        self.auth_changed = True
        self.policy_changed = True

    def changed_credentials(self) -> None:
        """Mark that this operation changes only how someone signs in or signs requests
        (a key, a password, an MFA device): credential caches reload on the next request,
        cached policies stay (only the auth version is bumped on commit)."""
        self.auth_changed = True
