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
from selfiam.store import change_feed as feed

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
    #: Change keys (store/change_feed.py) this operation published on commit.
    changes: set[str] = field(default_factory=set)
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

    def changed_authorization(
        self,
        *,
        user_id: str | None = None,
        role_id: str | None = None,
        group_id: str | None = None,
        policy_arn: str | None = None,
    ) -> None:
        """Mark that this operation changes who may do what: a principal's policies, or
        who a principal is. Name what changed (a user, a role, a group, a managed policy)
        so that only the entries depending on it are reloaded, in every process; with no
        argument, every cached caller and policy set is (the safe choice when unsure)."""
        named = [
            feed.key(kind, ident)
            for kind, ident in (
                (feed.USER, user_id),
                (feed.ROLE, role_id),
                (feed.GROUP, group_id),
                (feed.POLICY, policy_arn),
            )
            if ident is not None
        ]
        self.changes.update(named or [feed.EVERYTHING])

    def changed_entity(self, kind: str, entity_id: str) -> None:
        """``changed_authorization`` for the user, group or role ``entity_id`` (``kind``
        "user", "group" or "role": a policy owner's)."""
        self.changes.add(feed.key(_ENTITY_KEYS[kind], entity_id))

    def changed_credentials(
        self, *, user_id: str | None = None, access_key_id: str | None = None
    ) -> None:
        """Mark that this operation changes only how someone signs in or signs requests
        (a key, a password, an MFA device): cached callers reload, cached policies stay.
        Name the user or the access key to reload only theirs; with no argument every
        cached caller reloads."""
        named = [
            feed.key(kind, ident)
            for kind, ident in ((feed.CREDENTIALS, user_id), (feed.ACCESS_KEY, access_key_id))
            if ident is not None
        ]
        self.changes.update(named or [feed.ALL_CREDENTIALS])


#: The change-key kind of a policy owner's entity kind.
_ENTITY_KEYS = {"user": feed.USER, "group": feed.GROUP, "role": feed.ROLE}
