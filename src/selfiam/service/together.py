"""All-or-nothing: several operations that one portal action needs, in one transaction.

Some buttons (and ``selfiam user create``) are more than one IAM operation: "remove MFA" is DeactivateMFADevice then
DeleteVirtualMFADevice (AWS's console does both), "create user" is CreateUser then
CreateLoginProfile. Run one call at a time, a refusal of the second leaves the first done
(a device deactivated but never deleted, a user without the password the admin was told
about). ``invoke_together`` runs each step through its own registered handler (the same
authorization as the API: each ``ctx.authorize`` asks the policy engine for that step's
action on that step's resource) in ONE write transaction, and commits only when every step
was allowed and succeeded. Nothing is visible to anyone (another process, a cache) before
the commit, so a refusal anywhere leaves the account exactly as it was.

Each step leaves its own audit record (its action, resource and decision), written in the
same transaction. When a step is refused or fails, the transaction is rolled back — the
records of the earlier steps with it, since nothing they did happened — and the failing
step's record is written with its error, as a single refused call would be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from selfiam.domain.errors import AwsError, InternalFailure
from selfiam.service.audit import AuditRecord, write_records
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.context import OperationContext
from selfiam.service.runtime import Runtime
from selfiam.store.engine import transaction

#: One step: (service, operation name, parameters), e.g. ("iam", "DeleteVirtualMFADevice", ...).
Step = tuple[str, str, Mapping[str, Any]]

#: More than any caller needs (the CLI's user create: the user, 10 groups, a password); a
#: caller cannot make one transaction unbounded.
MAX_STEPS = 16


def invoke_together(
    runtime: Runtime, steps: Sequence[Step], caller: Caller, info: RequestInfo
) -> list[dict[str, Any]]:
    """Run write operations ``steps`` in order, in one transaction: every one is authorized
    and done, or none is. Returns their results in order; raises the first step's error
    (AccessDenied with AWS's message for that step's action and resource)."""
    if not 0 < len(steps) <= MAX_STEPS:
        raise InternalFailure(f"invoke_together takes 1 to {MAX_STEPS} steps")
    admitted = []
    for service, name, params in steps:
        op, step_info = runtime.admit(service, name, caller, info)
        if not op.writes or not op.authorized:
            raise InternalFailure(f"{service}:{name} cannot be a step: only authorized writes")
        admitted.append((op, step_info, f"{service}:{name}", params))
    ctx: OperationContext | None = None
    action = admitted[0][2]
    step_info = admitted[0][1]
    changes: set[str] = set()
    published: int | None = None
    committed = False
    try:
        with transaction(runtime.engine) as conn:
            records: list[AuditRecord] = []
            results = []
            for op, step_info, action, params in admitted:
                ctx = OperationContext(runtime, conn, caller, step_info, action)
                results.append(op.handler(ctx, params))
                if ctx.decision is None:
                    raise InternalFailure(f"{action} ran without an authorization decision")
                changes |= ctx.changes
                records.append(runtime._record(ctx, caller, step_info, action, None))
            published = runtime.invalidation.publish(conn, changes)
            write_records(conn, records)
        committed = True
        return results
    except AwsError as err:
        runtime.audit.submit(runtime._record(ctx, caller, step_info, action, err))
        raise
    finally:
        runtime.invalidation.finish(published, changes, committed=committed)
