"""Reading the audit trail as a principal: ``selfiam:ReadAuditLog``.

The CLI's ``selfiam audit`` reads the store as the operator; anyone else (the
portal's admin pages) reads through this operation, authorized like any other.

Why a selfiam action and not an IAM read such as
``iam:GetAccountAuthorizationDetails``: the trail holds every principal's
requests with their source addresses and user agents — closer to CloudTrail's
event history than to IAM's configuration. An IAM read-only grant
(``iam:Get*``/``iam:List*``, IAMReadOnlyAccess, the SelfService group's policy)
must not open it; a policy opens it by naming ``selfiam:ReadAuditLog`` or by
allowing ``*`` (AdministratorAccess). It has no resource type: it is
authorized on ``*``. Only the caller's own account's records are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selfiam.domain.errors import ValidationError
from selfiam.domain.identifiers import new_request_id
from selfiam.service.audit import AuditRecord, read_records
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.context import OperationContext
from selfiam.service.registry import operation
from selfiam.service.runtime import Runtime

SERVICE = "selfiam"
READ = "ReadAuditLog"
ACTION = f"{SERVICE}:{READ}"
MAX_RECORDS = 1000


def read_audit_log(
    runtime: Runtime,
    caller: Caller,
    *,
    user_name: str | None = None,
    action: str | None = None,
    limit: int = 100,
    info: RequestInfo | None = None,
) -> list[AuditRecord]:
    """The newest records of the caller's account first: those made by ``user_name`` (any
    path), of ``action`` (``iam:CreateUser``) — if the caller may read the trail."""
    params: dict[str, Any] = {"Limit": limit}
    if user_name:
        params["UserName"] = user_name
    if action:
        params["Action"] = action
    request = info or RequestInfo(request_id=new_request_id(), now=runtime.clock())
    out = runtime.invoke(SERVICE, READ, params, caller, request)
    records: list[AuditRecord] = out["Records"]
    return records


@operation(READ, service=SERVICE, writes=False)
def read_audit_log_operation(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    raw = params.get("Limit")
    limit = 100 if raw is None else int(raw)
    if not 1 <= limit <= MAX_RECORDS:
        raise ValidationError(f"Limit must be between 1 and {MAX_RECORDS}.")
    user = params.get("UserName")
    if user is not None and ("/" in str(user) or not str(user).strip()):
        raise ValidationError("UserName must be a user name, without a path.")
    records = read_records(
        ctx.runtime.engine,
        caller_arn_suffix=f"/{user}" if user else None,
        action=str(params["Action"]) if params.get("Action") else None,
        limit=limit,
        account_id=ctx.account_id,
    )
    if user:
        # ``…:user/PATH/NAME`` on any path; a role or session of the same name is not the user.
        records = [r for r in records if r.caller_arn and ":user/" in r.caller_arn]
    return {"Records": records}
