"""IAM groups and group membership."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, exists, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain.arns import group_arn
from selfiam.domain.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
)
from selfiam.domain.identifiers import new_group_id
from selfiam.service.context import OperationContext
from selfiam.service.lookup import (
    find_user,
    listed_user_shape,
    no_such_user,
)
from selfiam.service.operations.account import GROUPS_PER_USER, GROUPS_QUOTA
from selfiam.service.operations.entities import GROUP, authorize_entity
from selfiam.service.operations.users import (
    authorize_user,
    path_prefix_filter,
)
from selfiam.service.pagination import page_after
from selfiam.service.quotas import insert_within_account_quota
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_user_row
from selfiam.store.owned import delete_owned


def group_shape(row: Row[Any], account_id: str) -> dict[str, Any]:
    """A group as the model's Group structure."""
    return {
        "Path": row.path,
        "GroupName": row.name,
        "GroupId": row.group_id,
        "Arn": group_arn(account_id, row.name, row.path),
        "CreateDate": row.created_at,
    }


def authorize_group(ctx: OperationContext, name: str, *, action: str | None = None) -> Row[Any]:
    """Authorize an action on an existing group (its real ARN), then return its row.

    An unknown name is authorized against the path-less ARN, then refused with
    NoSuchEntity (authorization first, as AWS).
    """
    row, _ = authorize_entity(ctx, GROUP, name, action=action)
    return row


@operation("CreateGroup", light=True)
def create_group(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["GroupName"])
    path = str(params.get("Path") or "/")
    ctx.authorize(group_arn(ctx.account_id, name, path))
    group_id = new_group_id()
    values = {
        "group_id": group_id,
        "account_id": ctx.account_id,
        "name": name,
        "name_lower": name.lower(),
        "path": path,
        "created_at": ctx.info.now,
    }
    try:
        insert_within_account_quota(ctx, t.groups, values, "GroupsPerAccount", GROUPS_QUOTA)
    except IntegrityError:
        raise EntityAlreadyExists(f"Group with name {name} already exists.") from None
    row = ctx.conn.execute(select(t.groups).where(t.groups.c.group_id == group_id)).one()
    return {"Group": group_shape(row, ctx.account_id)}


@operation("GetGroup", writes=False)
def get_group(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """The group and one page of its members, by user name."""
    row = authorize_group(ctx, str(params["GroupName"]))
    u, gm = t.users, t.group_members
    query = select(u).join(gm, gm.c.user_id == u.c.user_id).where(gm.c.group_id == row.group_id)
    page, more = page_after(ctx.conn, query, u.c.name_lower, params)
    return {
        "Group": group_shape(row, ctx.account_id),
        "Users": [listed_user_shape(r, ctx.account_id) for r in page],
        **more,
    }


def _groups_page(ctx: OperationContext, query: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    page, more = page_after(ctx.conn, query, t.groups.c.name_lower, params)
    return {"Groups": [group_shape(r, ctx.account_id) for r in page], **more}


@operation("ListGroups", writes=False)
def list_groups(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize(f"arn:aws:iam::{ctx.account_id}:group{params.get('PathPrefix') or '/'}")
    g = t.groups
    query = select(g).where(g.c.account_id == ctx.account_id)
    prefix = path_prefix_filter(g.c.path, params.get("PathPrefix"))
    if prefix is not None:
        query = query.where(prefix)
    return _groups_page(ctx, query, params)


@operation("ListGroupsForUser", writes=False)
def list_groups_for_user(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    user = authorize_user(ctx, str(params["UserName"]))
    g, gm = t.groups, t.group_members
    query = select(g).join(gm, gm.c.group_id == g.c.group_id).where(gm.c.user_id == user.user_id)
    return _groups_page(ctx, query, params)


@operation("UpdateGroup", light=True)
def update_group(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Rename and/or move a group. AWS requires permission on the old and the new ARN."""
    row = authorize_group(ctx, str(params["GroupName"]))
    new_name = str(params.get("NewGroupName") or row.name)
    new_path = str(params.get("NewPath") or row.path)
    if new_name == row.name and new_path == row.path:
        return {}
    ctx.authorize(group_arn(ctx.account_id, new_name, new_path))
    try:
        ctx.conn.execute(
            t.groups.update()
            .where(t.groups.c.group_id == row.group_id)
            .values(name=new_name, name_lower=new_name.lower(), path=new_path)
        )
    except IntegrityError:
        raise EntityAlreadyExists(f"Group with name {new_name} already exists.") from None
    ctx.changed_authorization(
        group_id=row.group_id
    )  # group policies are named after the group in explanations
    return {}


def _has(conn: Connection, where: Any) -> bool:
    return bool(conn.execute(select(exists().where(where))).scalar())


@operation("DeleteGroup", light=True)
def delete_group(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row = authorize_group(ctx, str(params["GroupName"]))
    gid = row.group_id
    ip = t.inline_policies
    checks: list[tuple[Any, str]] = [
        (t.group_members.c.group_id == gid, "must remove users from group first."),
        ((ip.c.owner_type == "group") & (ip.c.owner_id == gid), "must delete policies first."),
        (t.group_policy_attachments.c.group_id == gid, "must detach all policies first."),
    ]
    for where, message in checks:
        if _has(ctx.conn, where):
            raise DeleteConflict(f"Cannot delete entity, {message}")
    delete_owned(ctx.conn, "group", gid)
    ctx.conn.execute(t.groups.delete().where(t.groups.c.group_id == gid))
    ctx.changed_authorization(group_id=gid)
    return {}


def _member_rows(ctx: OperationContext, params: Mapping[str, Any]) -> tuple[Row[Any], Row[Any]]:
    """Authorize on the group, then find the group and the user (NoSuchEntity for either)."""
    group = authorize_group(ctx, str(params["GroupName"]))
    user_name = str(params["UserName"])
    user = find_user(ctx.conn, ctx.account_id, user_name)
    if user is None:
        raise no_such_user(user_name)
    return group, user


@operation("AddUserToGroup", light=True)
def add_user_to_group(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Add a member (adding an existing member succeeds, as AWS); at most 10 groups per user."""
    group, user = _member_rows(ctx, params)
    if not lock_user_row(ctx.conn, user.user_id):
        raise no_such_user(str(params["UserName"]))
    gm = t.group_members
    groups_of_user = select(gm.c.group_id).where(gm.c.user_id == user.user_id)
    current = set(ctx.conn.execute(groups_of_user).scalars())
    if group.group_id in current:
        return {}
    if len(current) >= GROUPS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
    ctx.conn.execute(gm.insert().values(group_id=group.group_id, user_id=user.user_id))
    ctx.changed_authorization(user_id=user.user_id)
    return {}


@operation("RemoveUserFromGroup", light=True)
def remove_user_from_group(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        group, user = _member_rows(ctx, params)
    except NoSuchEntity:
        # Neither the group nor the user exists: AWS names the user (recorded answer).
        user_name = str(params["UserName"])
        if find_user(ctx.conn, ctx.account_id, user_name) is None:
            raise no_such_user(user_name) from None
        raise
    gm = t.group_members
    result = ctx.conn.execute(
        gm.delete().where(gm.c.group_id == group.group_id, gm.c.user_id == user.user_id)
    )
    # A user who is not a member: AWS answers success (recorded), as for a repeated add.
    if result.rowcount:
        ctx.changed_authorization(user_id=user.user_id)
    return {}
