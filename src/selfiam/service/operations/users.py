"""IAM users: create, read, list, rename, delete, tag, and their permissions boundary."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Column, Row, bindparam, exists, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain.arns import ArnError, parse_iam_arn, root_arn, user_arn
from selfiam.domain.errors import (
    AwsError,
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    NoSuchEntity,
    ValidationError,
)
from selfiam.domain.identifiers import new_user_id
from selfiam.service.context import OperationContext
from selfiam.service.lookup import (
    find_user,
    listed_user_shape,
    no_such_user,
    target_user_name,
    user_shape,
)
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.account import USERS_QUOTA
from selfiam.service.operations.entities import (
    USER,
    authorize_entity,
    list_entity_tags,
    tag_entity,
    untag_entity,
)
from selfiam.service.pagination import PreparedPage
from selfiam.service.quotas import check_quota, insert_within_account_quota
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_user_row
from selfiam.store.owned import delete_owned
from selfiam.store.prepared import PreparedPerColumn

TAGS_QUOTA = "TagsPerUser"


def user_exists_error(name: str) -> AwsError:
    return EntityAlreadyExists(f"User with name {name} already exists.")


def authorize_user(
    ctx: OperationContext,
    name: str,
    *,
    action: str | None = None,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> Row[Any]:
    """Authorize an action on an existing user, then return the user's row.

    The resource is the user's real ARN (with its path) and the user's tags
    are the aws:ResourceTag context; an unknown name is authorized against the
    path-less ARN and then refused with NoSuchEntity, as AWS orders it.
    """
    row, _ = authorize_user_with_tags(
        ctx, name, action=action, request_tags=request_tags, extra_context=extra_context
    )
    return row


def authorize_user_with_tags(
    ctx: OperationContext,
    name: str,
    *,
    action: str | None = None,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> tuple[Row[Any], dict[str, str]]:
    """:func:`authorize_user`, also returning the tags it loaded for the context."""
    return authorize_entity(
        ctx, USER, name, action=action, request_tags=request_tags, extra_context=extra_context
    )


def lock_user(ctx: OperationContext, user: Any, name: str) -> None:
    """Lock the user's row until the transaction ends; NoSuchEntity (about ``name``, as
    the request gave it) if the user was deleted since it was read."""
    if not lock_user_row(ctx.conn, user.user_id):
        raise no_such_user(name)


def lock_user_within_quota(
    ctx: OperationContext,
    user: Any,
    name: str,
    owner_column: Column[Any],
    quota_name: str,
    quota: int,
) -> None:
    """Lock the user's row (``lock_user``), then refuse one more of ``owner_column``'s
    credentials beyond ``quota``: with the lock, two concurrent creators are counted one
    after the other (DESIGN rule 6)."""
    lock_user(ctx, user, name)
    check_quota(ctx.conn, owner_column, user.user_id, quota_name, quota)


#: One prepared lookup per credential table: its row ``id`` if it belongs to the user.
_CREDENTIALS = PreparedPerColumn(
    lambda id_column: select(id_column.table).where(
        id_column == bindparam("credential_id"),
        id_column.table.c.user_id == bindparam("user_id"),
    )
)


def users_credential(
    ctx: OperationContext,
    params: Mapping[str, Any],
    id_column: Column[Any],
    id_param: str,
    not_found: Callable[[str], AwsError],
) -> tuple[Row[Any], Row[Any]]:
    """Authorize on the target user (UserName, or the caller), then find the credential
    ``params[id_param]`` among that user's own: (credential row, user row).

    A credential that exists but belongs to someone else is not found, as AWS says.
    """
    user = authorize_user(ctx, target_user_name(ctx, params))
    credential_id = str(params[id_param])
    row = _CREDENTIALS(id_column).first(
        ctx.conn, {"credential_id": credential_id, "user_id": user.user_id}
    )
    if row is None:
        raise not_found(credential_id)
    return row, user


def boundary_context(arn: str | None) -> dict[str, str | Sequence[str]] | None:
    return {"iam:PermissionsBoundary": arn} if arn else None


def check_boundary_policy(conn: Connection, account_id: str, arn: str) -> None:
    """A permissions boundary must be an existing managed policy this account can use."""
    try:
        parsed = parse_iam_arn(arn)
    except ArnError:
        raise InvalidInput(f"ARN {arn} is not valid.") from None
    if parsed.resource_type != "policy" or parsed.account not in ("aws", account_id):
        raise InvalidInput(f"ARN {arn} is not valid.")
    mp = t.managed_policies
    found = conn.execute(
        select(mp.c.policy_id).where(mp.c.arn == arn, mp.c.is_attachable.is_(True))
    ).first()
    if found is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")


@operation("CreateUser", light=True)
def create_user(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["UserName"])
    path = str(params.get("Path") or "/")
    boundary = params.get("PermissionsBoundary")
    tags = tagging.request_tags(params.get("Tags"))
    arn = user_arn(ctx.account_id, name, path)
    tagging.authorize_create(
        ctx, arn, tags, "iam:TagUser", extra_context=boundary_context(boundary)
    )
    if boundary:
        check_boundary_policy(ctx.conn, ctx.account_id, boundary)
    row = SimpleNamespace(
        user_id=new_user_id(),
        account_id=ctx.account_id,
        name=name,
        name_lower=name.lower(),
        path=path,
        created_at=ctx.info.now,
        permissions_boundary_arn=boundary,
    )
    try:
        insert_within_account_quota(ctx, t.users, vars(row), "UsersPerAccount", USERS_QUOTA)
    except IntegrityError:
        raise user_exists_error(name) from None
    tagging.put_tags(ctx.conn, "user", row.user_id, tags, TAGS_QUOTA)
    ctx.changed_authorization(user_id=row.user_id)
    # The answer is what was inserted (no re-read): a new user has never used a password.
    row.password_last_used = None
    out = user_shape(row, ctx.account_id)
    if tags:
        out["Tags"] = tagging.tag_list(tags)
    return {"User": out}


def _root_user(ctx: OperationContext) -> dict[str, Any]:
    """GetUser by the root with no name describes the root user, as AWS does."""
    created = ctx.conn.execute(
        select(t.accounts.c.created_at).where(t.accounts.c.account_id == ctx.account_id)
    ).scalar_one()
    return {"UserId": ctx.account_id, "Arn": root_arn(ctx.account_id), "CreateDate": created}


@operation("GetUser", writes=False)
def get_user(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = params.get("UserName") or ctx.caller.user_name
    if name is None and ctx.caller.is_role_session:
        raise ValidationError("Must specify userName when calling with non-User credentials")
    if name is None:
        ctx.authorize(root_arn(ctx.account_id))
        return {"User": _root_user(ctx)}
    row, tags = authorize_user_with_tags(ctx, str(name))
    out = user_shape(row, ctx.account_id)
    if tags:
        out["Tags"] = tagging.tag_list(tags)
    return {"User": out}


def path_prefix_filter(column: Any, prefix: str | None) -> Any:
    """IAM's PathPrefix: a case-sensitive string prefix (SQL LIKE would fold case on SQLite)."""
    return func.substr(column, 1, len(prefix)) == prefix if prefix else None


# PathPrefix "/" matches every user, so one prepared statement serves every ListUsers.
_u = t.users
_LIST_USERS = PreparedPage(
    select(
        _u.c.path,
        _u.c.name,
        _u.c.user_id,
        _u.c.created_at,
        _u.c.password_last_used,
        _u.c.name_lower,
    ).where(
        _u.c.account_id == bindparam("account_id"),
        func.substr(_u.c.path, 1, bindparam("prefix_length")) == bindparam("prefix"),
    ),
    _u.c.name_lower,
)


@operation("ListUsers", writes=False)
def list_users(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    prefix = str(params.get("PathPrefix") or "/")
    ctx.authorize(f"arn:aws:iam::{ctx.account_id}:user{prefix}")
    values = {"account_id": ctx.account_id, "prefix_length": len(prefix), "prefix": prefix}
    page, more = _LIST_USERS.page(ctx.conn, params, values)
    return {"Users": [listed_user_shape(r, ctx.account_id) for r in page], **more}


@operation("UpdateUser", light=True)
def update_user(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Rename and/or move a user. AWS requires permission on the old and the new ARN."""
    name = str(params["UserName"])
    row = authorize_user(ctx, name)
    new_name = str(params.get("NewUserName") or row.name)
    new_path = str(params.get("NewPath") or row.path)
    if new_name == row.name and new_path == row.path:
        return {}
    ctx.authorize(user_arn(ctx.account_id, new_name, new_path))
    try:
        ctx.conn.execute(
            t.users.update()
            .where(t.users.c.user_id == row.user_id)
            .values(name=new_name, name_lower=new_name.lower(), path=new_path)
        )
    except IntegrityError:
        raise user_exists_error(new_name) from None
    ctx.changed_authorization(user_id=row.user_id)
    return {}


def _has(conn: Connection, *where: Any) -> bool:
    return bool(conn.execute(select(exists().where(*where))).scalar())


def delete_conflict(conn: Connection, user_id: str) -> str | None:
    """What still keeps a user from being deleted, in the order of AWS's DeleteUser docs."""
    ip = t.inline_policies
    checks: list[tuple[Any, str]] = [
        (t.login_profiles.c.user_id == user_id, "must delete login profile first."),
        (t.access_keys.c.user_id == user_id, "must delete access keys first."),
        (t.signing_certificates.c.user_id == user_id, "must delete certificates first."),
        (t.ssh_public_keys.c.user_id == user_id, "must remove referenced objects first."),
        (
            t.service_specific_credentials.c.user_id == user_id,
            "must remove referenced objects first.",
        ),
        (t.mfa_devices.c.user_id == user_id, "must delete MFA device first."),
        (t.passkeys.c.user_id == user_id, "must delete MFA device first."),
        ((ip.c.owner_type == "user") & (ip.c.owner_id == user_id), "must delete policies first."),
        (t.user_policy_attachments.c.user_id == user_id, "must detach all policies first."),
        (t.group_members.c.user_id == user_id, "must remove users from group first."),
    ]
    for where, message in checks:
        if _has(conn, where):
            return message
    return None


@operation("DeleteUser")
def delete_user(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["UserName"])
    row = authorize_user(ctx, name)
    if not lock_user_row(ctx.conn, row.user_id):
        raise no_such_user(name)
    conflict = delete_conflict(ctx.conn, row.user_id)
    if conflict is not None:
        raise DeleteConflict(f"Cannot delete entity, {conflict}")
    delete_owned(ctx.conn, "user", row.user_id)
    ctx.conn.execute(t.users.delete().where(t.users.c.user_id == row.user_id))
    ctx.changed_authorization(user_id=row.user_id)
    return {}


@operation("PutUserPermissionsBoundary", light=True)
def put_user_permissions_boundary(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    boundary = str(params["PermissionsBoundary"])
    row = authorize_user(ctx, str(params["UserName"]), extra_context=boundary_context(boundary))
    check_boundary_policy(ctx.conn, ctx.account_id, boundary)
    ctx.conn.execute(
        t.users.update()
        .where(t.users.c.user_id == row.user_id)
        .values(permissions_boundary_arn=boundary)
    )
    ctx.changed_authorization(user_id=row.user_id)
    return {}


@operation("DeleteUserPermissionsBoundary", light=True)
def delete_user_permissions_boundary(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    name = str(params["UserName"])
    current = find_user(ctx.conn, ctx.account_id, name)
    boundary = current.permissions_boundary_arn if current is not None else None
    row = authorize_user(ctx, name, extra_context=boundary_context(boundary))
    ctx.conn.execute(
        t.users.update()
        .where(t.users.c.user_id == row.user_id)
        .values(permissions_boundary_arn=None)
    )
    ctx.changed_authorization(user_id=row.user_id)
    return {}


@operation("TagUser", light=True)
def tag_user(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    tags = tagging.request_tags(params["Tags"])
    entity_id = tag_entity(ctx, USER, str(params["UserName"]), tags, TAGS_QUOTA)
    ctx.changed_authorization(user_id=entity_id)  # a user's tags are its principal tags
    return {}


@operation("UntagUser", light=True)
def untag_user(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    entity_id = untag_entity(
        ctx, USER, str(params["UserName"]), [str(k) for k in params["TagKeys"]]
    )
    ctx.changed_authorization(user_id=entity_id)
    return {}


@operation("ListUserTags", writes=False)
def list_user_tags(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    return list_entity_tags(ctx, USER, str(params["UserName"]), params)
