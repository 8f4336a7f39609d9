"""STS operations that need no credentials of their own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selfiam.service.context import OperationContext
from selfiam.service.registry import operation


@operation("GetCallerIdentity", service="sts", writes=False, authorized=False)
def get_caller_identity(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Who the caller is. AWS never denies it, even under an explicit Deny."""
    caller = ctx.caller
    return {
        "UserId": caller.user_id or caller.account_id,
        "Account": caller.account_id,
        "Arn": caller.arn,
    }
