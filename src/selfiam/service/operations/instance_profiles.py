"""Instance profiles: a named holder of (at most) one role, as EC2 uses them.

selfiam runs no instances; it keeps instance profiles so that tools managing roles
(terraform's ``aws_iam_instance_profile``, CloudFormation) get AWS's answers. AWS's
rules: names unique case-insensitively in the account, 1,000 per account by default,
one role per profile (the primary key of ``instance_profile_roles`` holds it under
concurrency), a profile holding a role cannot be deleted, nor the role while it is in
a profile (DeleteConflict). Adding a role passes it, so AWS also asks for iam:PassRole
on the role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain.arns import instance_profile_arn
from selfiam.domain.errors import (
    AwsError,
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
)
from selfiam.domain.identifiers import new_instance_profile_id
from selfiam.service.context import OperationContext
from selfiam.service.lookup import find_role, no_such_role
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.entities import (
    ROLE,
    EntityKind,
    authorize_entity,
    list_entity_tags,
    tag_entity,
    untag_entity,
)
from selfiam.service.operations.roles import authorize_role, listed_role_shape
from selfiam.service.operations.users import path_prefix_filter
from selfiam.service.pagination import page_after
from selfiam.service.quotas import check_account_quota
from selfiam.service.registry import operation
from selfiam.service.trust_principals import shown_trust
from selfiam.store import tables as t
from selfiam.store.locks import lock_row

INSTANCE_PROFILES_QUOTA = 1000
ROLES_PER_PROFILE = 1
TAGS_QUOTA = "TagsPerInstanceProfile"
TAG_TYPE = "instance-profile"
#: AWS's DeleteConflict wording, for DeleteInstanceProfile and for DeleteRole.
REMOVE_ROLES_FIRST = "Cannot delete entity, must remove roles from instance profile first."

_ip, _ipr = t.instance_profiles, t.instance_profile_roles


def no_such_profile(name: str) -> AwsError:
    return NoSuchEntity(f"Instance Profile {name} cannot be found.")


def _find(conn: Connection, account_id: str, name: str) -> Row[Any] | None:
    return conn.execute(
        select(_ip).where(_ip.c.account_id == account_id, _ip.c.name_lower == name.lower())
    ).first()


PROFILE = EntityKind(
    _find, instance_profile_arn, no_such_profile, _ip, "instance_profile_id", TAG_TYPE
)


def _authorize(
    ctx: OperationContext,
    name: str,
    *,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> Row[Any]:
    """Authorize the operation on an instance profile (its real ARN, its tags), then
    return its row; an unknown name is authorized on the path-less ARN, then refused."""
    row, _ = authorize_entity(
        ctx, PROFILE, name, request_tags=request_tags, extra_context=extra_context
    )
    return row


def _held_role(conn: Connection, profile_id: str) -> str | None:
    """The id of the role an instance profile holds, if any."""
    found = conn.execute(
        select(_ipr.c.role_id).where(_ipr.c.instance_profile_id == profile_id)
    ).scalar()
    return str(found) if found is not None else None


def _shapes(
    conn: Connection, account_id: str, rows: Sequence[Row[Any]], *, with_tags: bool
) -> list[dict[str, Any]]:
    """Instance profiles as AWS shows them, each with its role (one query for all)."""
    ids = [r.instance_profile_id for r in rows]
    r = t.roles
    held = conn.execute(
        select(_ipr.c.instance_profile_id, r)
        .select_from(_ipr.join(r, _ipr.c.role_id == r.c.role_id))
        .where(_ipr.c.instance_profile_id.in_(ids))
    ).all()
    trust = shown_trust(conn, held)
    roles: dict[str, list[dict[str, Any]]] = {}
    for role in held:
        roles.setdefault(role.instance_profile_id, []).append(
            listed_role_shape(role, account_id, trust[role.role_id])
        )
    out = []
    for row in rows:
        shape: dict[str, Any] = {
            "Path": row.path,
            "InstanceProfileName": row.name,
            "InstanceProfileId": row.instance_profile_id,
            "Arn": instance_profile_arn(account_id, row.name, row.path),
            "CreateDate": row.created_at,
            "Roles": roles.get(row.instance_profile_id, []),
        }
        if with_tags:
            tags = tagging.load_tags(conn, TAG_TYPE, row.instance_profile_id)
            if tags:
                shape["Tags"] = tagging.tag_list(tags)
        out.append(shape)
    return out


def profiles_of_roles(
    conn: Connection, account_id: str, role_ids: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """role id -> the instance profiles holding it (GetAccountAuthorizationDetails)."""
    wanted = list(role_ids)
    rows = conn.execute(
        select(_ip, _ipr.c.role_id)
        .select_from(_ip.join(_ipr, _ip.c.instance_profile_id == _ipr.c.instance_profile_id))
        .where(_ipr.c.role_id.in_(wanted))
        .order_by(_ip.c.name_lower)
    ).all()
    shapes = _shapes(conn, account_id, rows, with_tags=False)
    out: dict[str, list[dict[str, Any]]] = {}
    for row, shape in zip(rows, shapes, strict=True):
        out.setdefault(row.role_id, []).append(shape)
    return out


@operation("CreateInstanceProfile", light=True)
def create_instance_profile(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["InstanceProfileName"])
    path = str(params.get("Path") or "/")
    tags = tagging.request_tags(params.get("Tags"))
    arn = instance_profile_arn(ctx.account_id, name, path)
    tagging.authorize_create(ctx, arn, tags, "iam:TagInstanceProfile")
    check_account_quota(
        ctx, _ip.c.account_id, "InstanceProfilesPerAccount", INSTANCE_PROFILES_QUOTA
    )
    profile_id = new_instance_profile_id()
    try:
        ctx.conn.execute(
            _ip.insert().values(
                instance_profile_id=profile_id,
                account_id=ctx.account_id,
                name=name,
                name_lower=name.lower(),
                path=path,
                created_at=ctx.info.now,
            )
        )
    except IntegrityError:
        raise EntityAlreadyExists(f"Instance Profile {name} already exists.") from None
    tagging.put_tags(ctx.conn, TAG_TYPE, profile_id, tags, TAGS_QUOTA)
    row = ctx.conn.execute(select(_ip).where(_ip.c.instance_profile_id == profile_id)).one()
    return {"InstanceProfile": _shapes(ctx.conn, ctx.account_id, [row], with_tags=True)[0]}


@operation("GetInstanceProfile", writes=False)
def get_instance_profile(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row = _authorize(ctx, str(params["InstanceProfileName"]))
    return {"InstanceProfile": _shapes(ctx.conn, ctx.account_id, [row], with_tags=True)[0]}


@operation("ListInstanceProfiles", writes=False)
def list_instance_profiles(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    prefix = params.get("PathPrefix")
    ctx.authorize(f"arn:aws:iam::{ctx.account_id}:instance-profile{prefix or '/'}")
    query = select(_ip).where(_ip.c.account_id == ctx.account_id)
    where = path_prefix_filter(_ip.c.path, prefix)
    if where is not None:
        query = query.where(where)
    page, more = page_after(ctx.conn, query, _ip.c.name_lower, params)
    return {
        "InstanceProfiles": _shapes(ctx.conn, ctx.account_id, page, with_tags=False),
        **more,
    }


@operation("ListInstanceProfilesForRole", writes=False)
def list_instance_profiles_for_role(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    role = authorize_role(ctx, str(params["RoleName"]))
    query = (
        select(_ip)
        .select_from(_ip.join(_ipr, _ip.c.instance_profile_id == _ipr.c.instance_profile_id))
        .where(_ipr.c.role_id == role.role_id)
    )
    page, more = page_after(ctx.conn, query, _ip.c.name_lower, params)
    return {
        "InstanceProfiles": _shapes(ctx.conn, ctx.account_id, page, with_tags=False),
        **more,
    }


# An instance profile hands its role to EC2: iam:PassedToService names EC2's principal.
PASSED_TO = {"iam:PassedToService": "ec2.amazonaws.com"}


def _role_to_pass(ctx: OperationContext, name: str) -> Any:
    """The role named, after iam:PassRole on it (AWS: adding a role to an instance
    profile passes it), with the role's tags as aws:ResourceTag and iam:ResourceTag and
    ``iam:PassedToService`` (the service that receives the role)."""
    role, _ = authorize_entity(ctx, ROLE, name, action="iam:PassRole", extra_context=PASSED_TO)
    return role


@operation("AddRoleToInstanceProfile", light=True)
def add_role_to_instance_profile(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    name = str(params["InstanceProfileName"])
    profile = _authorize(ctx, name)
    role = _role_to_pass(ctx, str(params["RoleName"]))
    if not lock_row(ctx.conn, t.roles, t.roles.c.role_id, role.role_id):
        raise no_such_role(str(params["RoleName"]))
    if not lock_row(ctx.conn, _ip, _ip.c.instance_profile_id, profile.instance_profile_id):
        raise no_such_profile(name)
    quota = LimitExceeded(
        f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_PROFILE}"
    )
    held = _held_role(ctx.conn, profile.instance_profile_id)
    if held is not None:
        raise quota
    try:
        ctx.conn.execute(
            _ipr.insert().values(
                instance_profile_id=profile.instance_profile_id, role_id=role.role_id
            )
        )
    except IntegrityError:
        raise quota from None
    return {}


@operation("RemoveRoleFromInstanceProfile", light=True)
def remove_role_from_instance_profile(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    profile = _authorize(ctx, str(params["InstanceProfileName"]))
    role_name = str(params["RoleName"])
    role = find_role(ctx.conn, ctx.account_id, role_name)
    removed = 0
    if role is not None:
        removed = ctx.conn.execute(
            _ipr.delete().where(
                _ipr.c.instance_profile_id == profile.instance_profile_id,
                _ipr.c.role_id == role.role_id,
            )
        ).rowcount
    if not removed:
        raise no_such_role(role_name)
    return {}


@operation("DeleteInstanceProfile", light=True)
def delete_instance_profile(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["InstanceProfileName"])
    profile = _authorize(ctx, name)
    if not lock_row(ctx.conn, _ip, _ip.c.instance_profile_id, profile.instance_profile_id):
        raise no_such_profile(name)
    held = _held_role(ctx.conn, profile.instance_profile_id)
    if held is not None:
        raise DeleteConflict(REMOVE_ROLES_FIRST)
    ctx.conn.execute(
        t.tags.delete().where(
            t.tags.c.resource_type == TAG_TYPE,
            t.tags.c.resource_id == profile.instance_profile_id,
        )
    )
    ctx.conn.execute(_ip.delete().where(_ip.c.instance_profile_id == profile.instance_profile_id))
    return {}


@operation("TagInstanceProfile", light=True)
def tag_instance_profile(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    tags = tagging.request_tags(params["Tags"])
    tag_entity(ctx, PROFILE, str(params["InstanceProfileName"]), tags, TAGS_QUOTA)
    return {}


@operation("UntagInstanceProfile", light=True)
def untag_instance_profile(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    keys = [str(k) for k in params["TagKeys"]]
    untag_entity(ctx, PROFILE, str(params["InstanceProfileName"]), keys)
    return {}


@operation("ListInstanceProfileTags", writes=False)
def list_instance_profile_tags(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    return list_entity_tags(ctx, PROFILE, str(params["InstanceProfileName"]), params)
