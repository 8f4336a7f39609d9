"""How much work one simulator result costs, so that a page of results is bounded.

A result is one action decided on every resource of the request, against every given
policy (AWS answers one EvaluationResult per action, with a ResourceSpecificResult per
resource). One decision's cost grows with the statements (each is checked, and may be
listed in MatchedStatements), their resources and actions, and for each condition with the
number of policy values times the size of the request values of its key
(``ForAnyValue:StringLike`` over a long ``aws:TagKeys`` compares every pair). A result
costs that once per resource, plus the resource's ARN, which its ResourceSpecificResult
repeats. The estimate counts all of that from above, once per request, from the parsed
policies, the request context and ResourceArns; no evaluation is needed for it.

The simulator then answers at most ``PAGE_STEPS // steps`` results per page (at least one,
at most MaxItems: AWS "might return fewer results, even when there are more results
available", with IsTruncated and a Marker), and refuses a request whose single result
would cost more than a whole page. So one call does at most ``PAGE_STEPS`` steps of
evaluation and of answer, whatever the number of actions and resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from selfiam.domain.errors import InvalidInput
from selfiam.policy import Policy, RequestContext, Statement

__all__ = [
    "PAGE_STEPS",
    "STATEMENT_STEPS",
    "action_steps",
    "check_result_steps",
    "decision_steps",
    "page_size",
]

#: The work of one page. A realistic self-service policy costs a few hundred steps per
#: action and resource, so MaxItems=1000 pages of one resource each fit; the worst page
#: answers ~30,000 matched statements.
PAGE_STEPS = 500_000
#: One statement checked and possibly reported.
STATEMENT_STEPS = 16


def _chars(context: RequestContext, key: str) -> int:
    """The size of the request's values of ``key``: what a condition on it compares."""
    values = context.get(key)
    return sum(len(v) + 1 for v in values) if values else 0


def statement_steps(stmt: Statement, context: RequestContext) -> int:
    steps = STATEMENT_STEPS + len(stmt.actions) + len(stmt.resources or ())
    for key in stmt.resource_variable_keys:
        steps += _chars(context, key)
    if stmt.condition is not None:
        for entry in stmt.condition.entries:
            request = _chars(context, entry.key)
            for key in entry.variable_keys:
                request += _chars(context, key)
            steps += (1 + len(entry.values)) * (1 + request)
    return steps


def policies_steps(policies: Iterable[Policy], context: RequestContext) -> int:
    return sum(statement_steps(s, context) for p in policies for s in p.statements)


def decision_steps(
    identity: Iterable[Policy],
    boundary: Iterable[Policy],
    resource: Iterable[Policy],
    context: RequestContext,
    *,
    cross_account: bool,
) -> int:
    """An upper bound of one decision's steps (one action on one resource): the decision
    itself, the boundary's own decision (PermissionsBoundaryDecisionDetail) when there is a
    boundary, and for a cross-account resource each policy type's decision
    (EvalDecisionDetails)."""
    ids = policies_steps(identity, context)
    bounds = policies_steps(boundary, context)
    resources = policies_steps(resource, context)
    steps = ids + bounds + resources + bounds
    if cross_account:
        steps += ids + bounds + resources + STATEMENT_STEPS
    return max(steps, 1)


def action_steps(decision_steps: int, resources: Sequence[str]) -> int:
    """An upper bound of one result's steps: one decision per resource, and each
    resource's ARN, written in its ResourceSpecificResult."""
    return len(resources) * decision_steps + sum(len(arn) + 1 for arn in resources)


def check_result_steps(steps: int) -> None:
    if steps > PAGE_STEPS:
        raise InvalidInput(
            f"The simulation is too large: one result would take {steps} evaluation steps, "
            f"more than the {PAGE_STEPS} of a page. Use fewer or smaller policies, fewer "
            "resources, fewer condition values or fewer context values."
        )


def page_size(max_items: int, remaining: int, steps: int) -> int:
    """How many results the next page holds: at least one while any remain."""
    return min(remaining, max(1, min(max_items, PAGE_STEPS // steps)))
