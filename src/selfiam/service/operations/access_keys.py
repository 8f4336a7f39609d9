"""Long-term access keys: at most two per user; the secret is shown once and stored sealed.

Every operation is authorized against the owning user's ARN. When UserName
is omitted the caller's own user is meant (AWS determines it from the key
that signed the request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, bindparam, select

from selfiam.domain.arns import user_arn
from selfiam.domain.errors import AwsError, NoSuchEntity
from selfiam.domain.identifiers import new_access_key_id, new_secret_access_key
from selfiam.service.context import OperationContext
from selfiam.service.credential_status import settable_status
from selfiam.service.lookup import target_user_name
from selfiam.service.operations.account import ACCESS_KEYS_PER_USER
from selfiam.service.operations.users import (
    authorize_user,
    lock_user,
    users_credential,
)
from selfiam.service.pagination import PreparedPage
from selfiam.service.quotas import insert_within_quota
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.prepared import PreparedWrite

NOT_USED = "N/A"


def no_such_key(access_key_id: str) -> AwsError:
    return NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")


def _metadata(row: Any, user_name: str) -> dict[str, Any]:
    return {
        "UserName": user_name,
        "AccessKeyId": row.access_key_id,
        "Status": row.status,
        "CreateDate": row.created_at,
    }


#: A key, only if it is the user's own (one statement: no read of it first).
_DELETE_KEY = PreparedWrite(
    t.access_keys.delete().where(
        t.access_keys.c.access_key_id == bindparam("access_key_id"),
        t.access_keys.c.user_id == bindparam("user_id"),
    )
)


@operation("CreateAccessKey", light=True)
def create_access_key(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Create a key; the user's row lock makes the two-key limit hold under concurrency."""
    name = target_user_name(ctx, params)
    user = authorize_user(ctx, name)
    ak = t.access_keys
    lock_user(ctx, user, name)
    access_key_id = new_access_key_id()
    secret = new_secret_access_key()
    row = {
        "access_key_id": access_key_id,
        "user_id": user.user_id,
        "secret_ciphertext": ctx.runtime.box.seal(secret.encode(), access_key_id.encode()),
        "status": "Active",
        "created_at": ctx.info.now,
    }
    insert_within_quota(ctx.conn, ak, row, ak.c.user_id, "AccessKeysPerUser", ACCESS_KEYS_PER_USER)
    # No auth-version bump: no cache holds anything about a key that did not exist, and
    # nothing cached about anyone else changes (a bump would make every caller reload).
    return {
        "AccessKey": {
            "UserName": user.name,
            "AccessKeyId": access_key_id,
            "Status": "Active",
            "SecretAccessKey": secret,
            "CreateDate": ctx.info.now,
        }
    }


_LIST_ACCESS_KEYS = PreparedPage(
    select(t.access_keys).where(t.access_keys.c.user_id == bindparam("user_id")),
    t.access_keys.c.access_key_id,
)


@operation("ListAccessKeys", writes=False)
def list_access_keys(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    user = authorize_user(ctx, target_user_name(ctx, params))
    page, more = _LIST_ACCESS_KEYS.page(ctx.conn, params, {"user_id": user.user_id})
    return {"AccessKeyMetadata": [_metadata(r, user.name) for r in page], **more}


def _users_key(ctx: OperationContext, params: Mapping[str, Any]) -> Row[Any]:
    row, _ = users_credential(
        ctx, params, t.access_keys.c.access_key_id, "AccessKeyId", no_such_key
    )
    return row


@operation("UpdateAccessKey", light=True)
def update_access_key(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    status = settable_status(str(params["Status"]))
    key = _users_key(ctx, params)
    ctx.conn.execute(
        t.access_keys.update()
        .where(t.access_keys.c.access_key_id == key.access_key_id)
        .values(status=status)
    )
    ctx.changed_credentials(access_key_id=key.access_key_id)
    return {}


@operation("DeleteAccessKey", light=True)
def delete_access_key(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """A key that exists but belongs to someone else is not found, as AWS says."""
    user = authorize_user(ctx, target_user_name(ctx, params))
    access_key_id = str(params["AccessKeyId"])
    deleted = _DELETE_KEY.execute(
        ctx.conn, {"access_key_id": access_key_id, "user_id": user.user_id}
    )
    if deleted.rowcount != 1:
        raise no_such_key(access_key_id)
    ctx.changed_credentials(access_key_id=access_key_id)
    return {}


@operation("GetAccessKeyLastUsed", writes=False)
def get_access_key_last_used(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """When, where and with which service a key was last used; "N/A" if never.

    The resource is the owning user. A key unknown in this account is
    authorized against ``*`` and then not found, so its existence elsewhere
    never shows.
    """
    access_key_id = str(params["AccessKeyId"])
    ak, u = t.access_keys, t.users
    row = ctx.conn.execute(
        select(ak, u.c.name, u.c.path)
        .join(u, u.c.user_id == ak.c.user_id)
        .where(ak.c.access_key_id == access_key_id, u.c.account_id == ctx.account_id)
    ).first()
    if row is None:
        # AWS answers AccessDenied, not NoSuchEntity, so that a key's existence never
        # shows; one allowed on "*" is refused in AWS's recorded words (no colon after
        # "perform", the resource named "access key ID").
        ctx.authorize("*")
        ctx.refuse(
            "*",
            message=f"User: {ctx.caller.arn} is not authorized to perform {ctx.action} "
            f"on resource: access key {access_key_id}",
        )
    ctx.authorize(user_arn(ctx.account_id, row.name, row.path))
    at, service, region = row.last_used_at, row.last_used_service, row.last_used_region
    # A use this process recorded may still wait in the audit writer's queue: count it,
    # so that whoever just used the key sees that use at once.
    pending = ctx.runtime.credentials.recorded_use(access_key_id)
    if pending is not None and (at is None or pending[0] > at):
        at, service, region = pending
    if at is None:
        last_used: dict[str, Any] = {"ServiceName": NOT_USED, "Region": NOT_USED}
    else:
        last_used = {
            "LastUsedDate": at,
            "ServiceName": service or NOT_USED,
            "Region": region or NOT_USED,
        }
    return {"UserName": row.name, "AccessKeyLastUsed": last_used}
