"""Authorizing an action on an existing named entity (a user, group, role or instance
profile), in the order AWS evaluates it: the policy first, NoSuchEntity after; and the
Tag/Untag/List*Tags operations that are the same for each taggable kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Table
from sqlalchemy.engine import Connection

from selfiam.domain.arns import group_arn, role_arn, user_arn
from selfiam.domain.errors import AwsError
from selfiam.service.context import OperationContext
from selfiam.service.lookup import (
    find_group,
    find_role,
    find_role_with_tags,
    find_user,
    find_user_with_tags,
    no_such_group,
    no_such_role,
    no_such_user,
)
from selfiam.service.operations import tags as tagging
from selfiam.store import tables as t
from selfiam.store.locks import lock_row

#: The actions on a user or role whose context carries ``iam:PermissionsBoundary``, the
#: target's current boundary (Service Authorization Reference, IAM's actions table; the
#: User Guide's "Delegating responsibility to others using permissions boundaries").
#: Put*PermissionsBoundary and Create* pass the boundary of the request instead.
BOUNDARY_ACTIONS = frozenset(
    f"iam:{name}"
    for name in (
        "AttachUserPolicy",
        "DetachUserPolicy",
        "PutUserPolicy",
        "DeleteUserPolicy",
        "PutUserPermissionsBoundary",
        "DeleteUserPermissionsBoundary",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "DeleteRole",
        "GetRole",
        "UpdateRole",
        "UpdateRoleDescription",
        "UpdateAssumeRolePolicy",
    )
)


@dataclass(frozen=True)
class EntityKind:
    """How to find one kind of named entity, build its ARN and say it is missing."""

    find: Callable[[Connection, str, str], Row[Any] | None]
    arn: Callable[..., str]  # (account, name[, path])
    missing: Callable[[str], AwsError]
    table: Table
    key: str  # the id column, also the tags' resource id
    #: The tags' resource type, None for a kind that has no tags (groups).
    tag_type: str | None
    #: The row and its tags in one query (kinds with tags).
    find_with_tags: Callable[[Connection, str, str], tuple[Any, dict[str, str]] | None] | None = (
        None
    )


USER = EntityKind(
    find_user, user_arn, no_such_user, t.users, "user_id", "user", find_user_with_tags
)
GROUP = EntityKind(find_group, group_arn, no_such_group, t.groups, "group_id", None)
ROLE = EntityKind(
    find_role, role_arn, no_such_role, t.roles, "role_id", "role", find_role_with_tags
)


def _boundary_context(
    ctx: OperationContext,
    row: Row[Any],
    action: str | None,
    extra_context: Mapping[str, str | Sequence[str]] | None,
) -> Mapping[str, str | Sequence[str]] | None:
    """``extra_context`` plus the entity's boundary as iam:PermissionsBoundary where AWS
    sets it; the key is absent when the entity has no boundary (as in AWS)."""
    boundary = row._mapping.get("permissions_boundary_arn")
    if boundary is None or (action or ctx.action) not in BOUNDARY_ACTIONS:
        return extra_context
    return {"iam:PermissionsBoundary": boundary, **(extra_context or {})}


def authorize_entity(
    ctx: OperationContext,
    kind: EntityKind,
    name: str,
    *,
    action: str | None = None,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> tuple[Row[Any], dict[str, str]]:
    """Authorize an action on an existing entity, then return its row and its tags.

    The resource is the entity's real ARN (with its path), its tags are the
    aws:ResourceTag (and for users and roles iam:ResourceTag) context, its boundary is
    iam:PermissionsBoundary for ``BOUNDARY_ACTIONS``; an unknown name is authorized
    against the path-less ARN and then refused with ``kind.missing`` (NoSuchEntity), as
    AWS orders it.
    """
    tags: dict[str, str] | None = None
    if kind.find_with_tags is not None:
        found = kind.find_with_tags(ctx.conn, ctx.account_id, name)
        row, tags = found if found is not None else (None, None)
    else:
        row = kind.find(ctx.conn, ctx.account_id, name)
    if row is None:
        ctx.authorize(
            kind.arn(ctx.account_id, name),
            action=action,
            request_tags=request_tags,
            extra_context=extra_context,
        )
        raise kind.missing(name)
    if tags is None and kind.tag_type is not None:
        tags = tagging.load_tags(ctx.conn, kind.tag_type, row._mapping[kind.key])
    ctx.authorize(
        kind.arn(ctx.account_id, row.name, row.path),
        action=action,
        resource_tags=tags,
        request_tags=request_tags,
        extra_context=_boundary_context(ctx, row, action, extra_context),
    )
    return row, tags if tags is not None else {}


def _tag_type(kind: EntityKind) -> str:
    if kind.tag_type is None:
        raise TypeError("this kind of entity has no tags")
    return kind.tag_type


def tag_entity(
    ctx: OperationContext, kind: EntityKind, name: str, tags: Mapping[str, str], quota: str
) -> str:
    """Tag*: authorize with the request's tags, lock the entity's row (so the tag count
    holds under concurrency), then merge ``tags`` in within ``quota``. Returns its id."""
    row, _ = authorize_entity(ctx, kind, name, request_tags=tags)
    entity_id = row._mapping[kind.key]
    if not lock_row(ctx.conn, kind.table, kind.table.c[kind.key], entity_id):
        raise kind.missing(name)
    tagging.put_tags(ctx.conn, _tag_type(kind), entity_id, tags, quota)
    return str(entity_id)


def untag_entity(ctx: OperationContext, kind: EntityKind, name: str, keys: list[str]) -> str:
    """Untag*: authorize with the keys as aws:TagKeys, then remove those tags. Returns the
    entity's id."""
    row, _ = authorize_entity(ctx, kind, name, extra_context={"aws:TagKeys": keys})
    tagging.remove_tags(ctx.conn, _tag_type(kind), row._mapping[kind.key], keys)
    return str(row._mapping[kind.key])


def list_entity_tags(
    ctx: OperationContext, kind: EntityKind, name: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """List*Tags: one page of the entity's tags."""
    row, _ = authorize_entity(ctx, kind, name)
    return tagging.list_tags_page(ctx.conn, _tag_type(kind), row._mapping[kind.key], params)
