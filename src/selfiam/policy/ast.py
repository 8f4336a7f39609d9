"""The parsed form of a policy document: frozen, compiled once, shared by every evaluation.

`document.parse_policy` builds these; `evaluate` reads them. Nothing here touches JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfiam.policy.conditions import ConditionBlock
    from selfiam.policy.patterns import ActionPattern, ResourcePattern


class PolicyKind(enum.Enum):
    """Where a policy document is used; decides which elements and what size IAM accepts."""

    MANAGED = "managed"
    INLINE_USER = "inline-user"
    INLINE_GROUP = "inline-group"
    INLINE_ROLE = "inline-role"
    RESOURCE = "resource"
    TRUST = "trust"
    SESSION = "session"
    BOUNDARY = "boundary"

    @property
    def takes_principal(self) -> bool:
        """Resource-based and trust policies name a principal; identity-based ones must not."""
        return self in (PolicyKind.RESOURCE, PolicyKind.TRUST)


# How a resource-based policy's Principal matched the caller. The order matters: a higher
# value is a more direct grant (see evaluate.py for what each one permits in the same account).
PRINCIPAL_NO_MATCH = 0
PRINCIPAL_ACCOUNT = 1  # matched through the account: 123456789012, arn:aws:iam::123456789012:root
PRINCIPAL_ROLE = 2  # the caller is a session of the role ARN named
PRINCIPAL_DIRECT = 3  # "*", or the caller's own user / role-session / federated-user ARN


def _account_of(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A statement's Principal / NotPrincipal value, normalised for matching.

    `aws` keeps the values as written (for display); the frozensets are lower-cased for lookup:
    `accounts` holds account ids named as "123456789012" or "arn:aws:iam::123456789012:root",
    `arns` the other AWS principal ARNs, `role_names` (account, role name) for role ARNs, since
    a role ARN in a resource-based policy matches every session of that role. `unique_ids`
    holds user (``AIDA…``) and role (``AROA…``) unique ids: IAM stores a trust policy's user
    and role ARNs as their ids, so that a principal deleted and created again under the
    same name is not the one the policy trusted.
    """

    wildcard: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()
    accounts: frozenset[str] = frozenset()
    arns: frozenset[str] = frozenset()
    role_names: frozenset[tuple[str, str]] = frozenset()
    others: frozenset[str] = frozenset()  # Service, Federated and CanonicalUser values
    unique_ids: frozenset[str] = frozenset()

    def match(
        self,
        principal_arn: str | None,
        principal_account: str | None,
        principal_id: str | None = None,
    ) -> int:
        """How directly this spec names the caller: one of the PRINCIPAL_* constants.
        ``principal_id`` is the caller's user id, or its role's id for a role session."""
        if self.wildcard:
            return PRINCIPAL_DIRECT
        if principal_id is not None and principal_id in self.unique_ids:
            return PRINCIPAL_ROLE if principal_id.startswith("AROA") else PRINCIPAL_DIRECT
        if principal_arn is None:
            return PRINCIPAL_NO_MATCH
        arn = principal_arn.lower()
        if arn in self.arns:
            return PRINCIPAL_DIRECT
        if arn in self.others:
            return PRINCIPAL_DIRECT
        account = principal_account or _account_of(arn)
        if self.role_names and arn.startswith("arn:aws:sts::") and ":assumed-role/" in arn:
            # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
            role = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
            if (account, role) in self.role_names:
                return PRINCIPAL_ROLE
        if account and account in self.accounts:
            return PRINCIPAL_ACCOUNT
        return PRINCIPAL_NO_MATCH


@dataclass(frozen=True, slots=True)
class Statement:
    """One compiled statement.

    `resources` is None when the statement has neither Resource nor NotResource (trust
    policies): it then applies to any resource. `start`/`end` are the 1-based (line, column)
    of the statement's opening and closing braces in the policy text, as SimulateCustomPolicy
    reports them.
    """

    index: int
    sid: str | None
    effect: str
    actions: tuple[ActionPattern, ...]
    not_action: bool
    resources: tuple[ResourcePattern, ...] | None
    not_resource: bool
    principal: PrincipalSpec | None
    not_principal: bool
    condition: ConditionBlock | None
    start: tuple[int, int]
    end: tuple[int, int]
    resource_variable_keys: tuple[str, ...] = ()
    any_resource: bool = False  # Resource lists "*": no need to match the resource

    @property
    def is_allow(self) -> bool:
        return self.effect == "Allow"

    @property
    def context_keys(self) -> tuple[str, ...]:
        """Every key this statement reads: condition keys and resource variables."""
        keys = list(self.resource_variable_keys)
        if self.condition is not None:
            keys.extend(self.condition.keys)
        return tuple(keys)


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed, validated policy document."""

    policy_id: str
    kind: PolicyKind
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    text: str = field(repr=False, compare=False, default="")
    # A lazily built evaluate.PolicySet of this one policy (resource policies are passed
    # to evaluate() one at a time); not part of the value.
    _compiled: Any = field(default=None, repr=False, compare=False, hash=False)

    @property
    def variables_enabled(self) -> bool:
        """Policy variables are only substituted under Version 2012-10-17."""
        return self.version == "2012-10-17"
