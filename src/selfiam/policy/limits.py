"""Policy size quotas (IAM and AWS STS quotas page), counted without white space."""

from __future__ import annotations

from selfiam.policy.ast import PolicyKind
from selfiam.policy.errors import MalformedPolicyError

#: Characters allowed per policy kind. "IAM doesn't count white space when calculating the
#: size of a policy against these quotas." Managed policy 6,144; inline policies (aggregate
#: per entity in AWS; per document here) user 2,048, group 5,120, role 10,240; role trust
#: policy 2,048 (the default, adjustable in AWS to 4,096); session policies 2,048 of plain
#: text; a permissions boundary is a managed policy.
POLICY_SIZE_LIMITS: dict[PolicyKind, int] = {
    PolicyKind.MANAGED: 6144,
    PolicyKind.BOUNDARY: 6144,
    PolicyKind.INLINE_USER: 2048,
    PolicyKind.INLINE_GROUP: 5120,
    PolicyKind.INLINE_ROLE: 10240,
    PolicyKind.TRUST: 2048,
    PolicyKind.SESSION: 2048,
    PolicyKind.RESOURCE: 20480,  # e.g. an S3 bucket policy (20 KB); not an IAM quota
}

_INLINE_ENTITY = {
    PolicyKind.INLINE_USER: "user",
    PolicyKind.INLINE_GROUP: "group",
    PolicyKind.INLINE_ROLE: "role",
}

_WHITESPACE = str.maketrans("", "", " \t\n\r\f\v")


class PolicySizeExceededError(MalformedPolicyError):
    """The document is over its kind's size quota.

    AWS answers this with LimitExceeded, not MalformedPolicyDocument, so the service layer
    catches this subclass first. `message` is the managed-policy wording; for inline policies
    AWS names the entity, which the policy core does not know: use `inline_message(name)`.
    """

    def __init__(self, kind: PolicyKind, limit: int, size: int) -> None:
        super().__init__(f"Cannot exceed quota for PolicySize: {limit}")
        self.kind = kind
        self.limit = limit
        self.size = size

    def inline_message(self, entity_name: str) -> str:
        """AWS's wording for PutUserPolicy / PutGroupPolicy / PutRolePolicy."""
        entity = _INLINE_ENTITY.get(self.kind, "entity")
        return f"Maximum policy size of {self.limit} bytes exceeded for {entity} {entity_name}"


def policy_size(text: str) -> int:
    """The size IAM counts: characters other than white space."""
    return len(text.translate(_WHITESPACE))


def check_size(text: str, kind: PolicyKind) -> None:
    limit = POLICY_SIZE_LIMITS[kind]
    if len(text) <= limit:
        return
    size = policy_size(text)
    if size > limit:
        raise PolicySizeExceededError(kind, limit, size)
