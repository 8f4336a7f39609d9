"""STS GetFederationToken: temporary credentials of a federated user, for an IAM user.

AWS (STS API Reference, GetFederationToken): called with an IAM user's long-term
credentials; the federated user's permissions are the intersection of the user's
policies and the session policies passed (Policy, PolicyArns) — "If you do not pass a
policy to this operation, the resulting federated user session has no permissions";
DurationSeconds 900 to 129,600 (default 43,200; the root user at most 3,600, but
selfiam's root signs no requests); session tags need sts:TagSession. The credentials
cannot call IAM, nor STS other than GetCallerIdentity (``authz``).

Sessions are stored server-side (``federation_sessions``) and end with the user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from selfiam.domain.arns import federated_user_arn
from selfiam.domain.errors import AccessDenied, InvalidClientTokenId, PackedPolicyTooLarge
from selfiam.policy import PolicyKind
from selfiam.service.authn import INVALID_TOKEN
from selfiam.service.context import OperationContext
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.assume_role import packed_size
from selfiam.service.operations.policy_common import validate_document
from selfiam.service.operations.sts import new_credentials, store_user_session
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_user_row

DEFAULT_DURATION = 43200
SESSION_CREDENTIALS = "Cannot call GetFederationToken with session credentials"


@operation("GetFederationToken", service="sts")
def get_federation_token(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    caller = ctx.caller
    if caller.is_temporary:
        raise AccessDenied(SESSION_CREDENTIALS)
    if caller.user_id is None:
        raise AccessDenied("selfiam issues federation tokens to IAM users only.")
    name = str(params["Name"])
    duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
    session_policy = params.get("Policy")
    policy_arns = [str(p["arn"]) for p in params.get("PolicyArns") or ()]
    tags = tagging.request_tags(params.get("Tags"))
    arn = federated_user_arn(ctx.account_id, name)
    tagging.authorize_create(ctx, arn, tags, "sts:TagSession")
    if session_policy is not None:
        validate_document(str(session_policy), PolicyKind.SESSION)
    packed = packed_size(
        str(session_policy) if session_policy is not None else None, policy_arns, tags
    )
    if packed > 100:
        raise PackedPolicyTooLarge(
            f"Packed policy consumes {packed}% of allotted space, please use smaller policy."
        )

    creds = new_credentials(ctx, duration)
    if not lock_user_row(ctx.conn, caller.user_id):
        raise InvalidClientTokenId(INVALID_TOKEN)
    store_user_session(
        ctx,
        t.federation_sessions,
        caller.user_id,
        creds,
        account_id=ctx.account_id,
        name=name,
        session_policy=str(session_policy) if session_policy is not None else None,
        session_policy_arns=json.dumps(policy_arns) if policy_arns else None,
        session_tags=json.dumps(tags) if tags else None,
    )
    return {
        "Credentials": creds.answer(),
        "FederatedUser": {"FederatedUserId": f"{ctx.account_id}:{name}", "Arn": arn},
        "PackedPolicySize": packed,
    }
