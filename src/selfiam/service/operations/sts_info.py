"""STS GetAccessKeyInfo and DecodeAuthorizationMessage.

GetAccessKeyInfo (STS API Reference): "returns the ID of the AWS account to which the
keys belong ... This operation does not indicate the state of the access key. The key
might be active, inactive, or deleted." selfiam answers the account of any key it holds
(long-term, session, role session, federation token), whatever its state, and for a key
it does not hold the caller's own account: the answer never says whether a key exists.

DecodeAuthorizationMessage decodes the "encoded authorization failure message" some AWS
services (EC2) attach to a denial. IAM and STS never encode theirs, and neither does
selfiam, so no message is one selfiam issued: after authorizing
sts:DecodeAuthorizationMessage, every message is InvalidAuthorizationMessageException.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, union_all

from selfiam.domain.errors import InvalidAuthorizationMessage
from selfiam.service.context import OperationContext
from selfiam.service.registry import operation
from selfiam.store import tables as t

#: The model's own description of the error (selfiam issues no encoded messages).
NOT_A_MESSAGE = (
    "The message passed to DecodeAuthorizationMessage is not an encoded authorization "
    "message issued by this service."
)


def _account_of_key(ctx: OperationContext, access_key_id: str) -> str | None:
    ak, u = t.access_keys, t.users
    holders = [
        select(u.c.account_id)
        .select_from(ak.join(u, ak.c.user_id == u.c.user_id))
        .where(ak.c.access_key_id == access_key_id),
        select(t.sts_sessions.c.account_id).where(t.sts_sessions.c.access_key_id == access_key_id),
        select(t.role_sessions.c.account_id).where(
            t.role_sessions.c.access_key_id == access_key_id
        ),
    ]
    found = ctx.conn.execute(union_all(*holders).limit(1)).scalar()
    return str(found) if found is not None else None


@operation("GetAccessKeyInfo", service="sts", writes=False)
def get_access_key_info(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    account = _account_of_key(ctx, str(params["AccessKeyId"]))
    return {"Account": account or ctx.account_id}


@operation("DecodeAuthorizationMessage", service="sts", writes=False)
def decode_authorization_message(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    ctx.authorize("*")
    raise InvalidAuthorizationMessage(NOT_A_MESSAGE)
