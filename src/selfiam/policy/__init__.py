"""The pure policy engine: parse, validate and evaluate AWS IAM policy documents.

It imports nothing else of selfiam and does no I/O. Parse a document once with
`parse_policy`, index a principal's policies once in a `PolicySet`, then call `evaluate`
per request.
"""

from selfiam.policy.ast import Policy, PolicyKind, PrincipalSpec, Statement
from selfiam.policy.context import RequestContext
from selfiam.policy.document import parse_policy
from selfiam.policy.errors import MalformedPolicyError
from selfiam.policy.evaluate import (
    Evaluation,
    MatchedStatement,
    PolicySet,
    Request,
    context_keys,
    evaluate,
)
from selfiam.policy.limits import POLICY_SIZE_LIMITS, PolicySizeExceededError, policy_size

__all__ = [
    "POLICY_SIZE_LIMITS",
    "Evaluation",
    "MalformedPolicyError",
    "MatchedStatement",
    "Policy",
    "PolicyKind",
    "PolicySet",
    "PolicySizeExceededError",
    "PrincipalSpec",
    "Request",
    "RequestContext",
    "Statement",
    "context_keys",
    "evaluate",
    "parse_policy",
    "policy_size",
]
