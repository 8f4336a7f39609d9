"""Authorizing an action on an existing named entity (a user, group, role or instance
profile), in the order AWS evaluates it: the policy first, NoSuchEntity after."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from selfiam.domain.errors import AwsError
from selfiam.service.context import OperationContext
from selfiam.service.operations import tags as tagging


@dataclass(frozen=True)
class EntityKind:
    """How to find one kind of named entity, build its ARN and say it is missing."""

    find: Callable[[Connection, str, str], Row[Any] | None]
    arn: Callable[..., str]  # (account, name[, path])
    missing: Callable[[str], AwsError]
    key: str  # the id column, also the tags' resource id
    #: The tags' resource type, None for a kind that has no tags (groups).
    tag_type: str | None


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

    The resource is the entity's real ARN (with its path) and its tags are the
    aws:ResourceTag context; an unknown name is authorized against the path-less ARN
    and then refused with ``kind.missing`` (NoSuchEntity), as AWS orders it.
    """
    row = kind.find(ctx.conn, ctx.account_id, name)
    if row is None:
        ctx.authorize(
            kind.arn(ctx.account_id, name),
            action=action,
            request_tags=request_tags,
            extra_context=extra_context,
        )
        raise kind.missing(name)
    tags = None
    if kind.tag_type is not None:
        tags = tagging.load_tags(ctx.conn, kind.tag_type, row._mapping[kind.key])
    ctx.authorize(
        kind.arn(ctx.account_id, row.name, row.path),
        action=action,
        resource_tags=tags,
        request_tags=request_tags,
        extra_context=extra_context,
    )
    return row, tags if tags is not None else {}
