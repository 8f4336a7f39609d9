"""Attaching managed policies to users, groups and roles, and listing who uses a policy.

AWS authorizes Attach/Detach*Policy against the *user, group or role* ARN, with the
policy's ARN in the request context as ``iam:PolicyARN`` (so an admin can be
allowed to attach only some policies). A user, group or role holds at most ten
managed policies; the owner's row is locked before the count (DESIGN rule 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, or_, select
from sqlalchemy.engine import Connection

from selfiam.domain.errors import (
    LimitExceeded,
    NoSuchEntity,
    PolicyNotAttachable,
    ValidationError,
)
from selfiam.service.context import OperationContext
from selfiam.service.operations.policy_common import (
    AWS_NAMESPACE,
    SEPARATOR,
    PolicyOwner,
    after_marker,
    authorized_policy,
    check_policy_arn,
    find_policy,
    register_for,
    split_marker,
)
from selfiam.service.pagination import decode_marker, finish_page, limit_of
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_row

MAX_ATTACHED = 10
#: AWS's policies for service-linked roles: no user, group or customer role takes them.
SERVICE_ROLE_PATH = "/aws-service-role/"
_CUSTOMER = {"user": "User", "group": "Group", "role": "Customer Role"}


@dataclass(frozen=True)
class _Owner(PolicyOwner):
    attachments: Table
    quota: str


USER = _Owner("user", "UserName", t.users, "user_id", t.user_policy_attachments, "PoliciesPerUser")
GROUP = _Owner(
    "group", "GroupName", t.groups, "group_id", t.group_policy_attachments, "PoliciesPerGroup"
)
ROLE = _Owner("role", "RoleName", t.roles, "role_id", t.role_policy_attachments, "PoliciesPerRole")


def _attach(ctx: OperationContext, owner: _Owner, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params[owner.name_param])
    arn = str(params["PolicyArn"])
    check_policy_arn(arn, ValidationError)
    entity = owner.authorized(ctx, name, extra_context={"iam:PolicyARN": arn})
    owner.check_modifiable(ctx, entity)
    policy = find_policy(ctx.conn, ctx.account_id, arn)
    if policy is None or not policy.is_attachable:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    if policy.namespace == AWS_NAMESPACE and policy.path == SERVICE_ROLE_PATH:
        # AWS's recorded answer for a role; a service-linked role's policy is the
        # service's to attach (CreateServiceLinkedRole), never a caller's.
        raise PolicyNotAttachable(
            f"Cannot attach a Service Role Policy to a {_CUSTOMER[owner.kind]}."
        )
    owner_id = entity._mapping[owner.key]
    lock_row(ctx.conn, owner.table, owner.table.c[owner.key], owner_id)
    att = owner.attachments
    current = set(
        ctx.conn.execute(select(att.c.policy_id).where(att.c[owner.key] == owner_id)).scalars()
    )
    if policy.policy_id in current:
        return {}  # attaching again is a no-op in AWS
    if len(current) >= MAX_ATTACHED:
        raise LimitExceeded(f"Cannot exceed quota for {owner.quota}: {MAX_ATTACHED}")
    ctx.conn.execute(att.insert().values({owner.key: owner_id, "policy_id": policy.policy_id}))
    ctx.changed_entity(owner.kind, owner_id)
    return {}


def _detach(ctx: OperationContext, owner: _Owner, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params[owner.name_param])
    arn = str(params["PolicyArn"])
    check_policy_arn(arn, ValidationError)
    entity = owner.authorized(ctx, name, extra_context={"iam:PolicyARN": arn})
    owner.check_modifiable(ctx, entity)
    policy = find_policy(ctx.conn, ctx.account_id, arn)
    att = owner.attachments
    owner_id = entity._mapping[owner.key]
    removed = 0
    if policy is not None:
        removed = ctx.conn.execute(
            delete(att).where(att.c[owner.key] == owner_id, att.c.policy_id == policy.policy_id)
        ).rowcount
    if not removed:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    ctx.changed_entity(owner.kind, owner_id)
    return {}


def attached_policies(
    conn: Connection, owner: _Owner, owner_id: str, params: Mapping[str, Any] | None = None
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """AttachedPolicies (name and ARN) of one user or group, by name, paginated if asked."""
    att, mp = owner.attachments, t.managed_policies
    stmt = (
        select(mp.c.name, mp.c.name_lower, mp.c.arn, mp.c.path)
        .select_from(att.join(mp, att.c.policy_id == mp.c.policy_id))
        .where(att.c[owner.key] == owner_id)
        .order_by(mp.c.name_lower, mp.c.arn)
    )
    if params is None:
        rows = conn.execute(stmt).all()
        return [{"PolicyName": r.name, "PolicyArn": r.arn} for r in rows], {}
    prefix = params.get("PathPrefix")
    if prefix:
        stmt = stmt.where(mp.c.path.startswith(prefix, autoescape=True))
    marker = split_marker(decode_marker(params.get("Marker")), 2)
    if marker is not None:
        stmt = stmt.where(after_marker([mp.c.name_lower, mp.c.arn], marker))
    rows = conn.execute(stmt.limit(limit_of(params))).all()
    page, tail = finish_page(rows, params, lambda r: f"{r.name_lower}{SEPARATOR}{r.arn}")
    return [{"PolicyName": r.name, "PolicyArn": r.arn} for r in page], tail


def _list_attached(
    ctx: OperationContext, owner: _Owner, params: Mapping[str, Any]
) -> dict[str, Any]:
    name = str(params[owner.name_param])
    entity = owner.authorized(ctx, name)
    policies, tail = attached_policies(ctx.conn, owner, entity._mapping[owner.key], params)
    return {"AttachedPolicies": policies, **tail}


for _owner in (USER, GROUP, ROLE):
    register_for(_owner, "Attach{Kind}Policy", _attach, light=True)
    register_for(_owner, "Detach{Kind}Policy", _detach, light=True)
    register_for(_owner, "ListAttached{Kind}Policies", _list_attached, writes=False)


# -- ListEntitiesForPolicy ------------------------------------------------------------

_KINDS = (
    # (sort rank, EntityFilter, output list, name field, id field, table, key, attachments)
    (
        "1",
        "Group",
        "PolicyGroups",
        "GroupName",
        "GroupId",
        t.groups,
        "group_id",
        t.group_policy_attachments,
    ),
    (
        "2",
        "User",
        "PolicyUsers",
        "UserName",
        "UserId",
        t.users,
        "user_id",
        t.user_policy_attachments,
    ),
    (
        "3",
        "Role",
        "PolicyRoles",
        "RoleName",
        "RoleId",
        t.roles,
        "role_id",
        t.role_policy_attachments,
    ),
)


@operation("ListEntitiesForPolicy", writes=False)
def list_entities_for_policy(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Groups, users and roles using the policy, as one name-ordered, paginated sequence.

    PolicyUsageFilter picks permissions-policy attachments or permissions-boundary use
    (users and roles only); without it both count. EntityFilter LocalManagedPolicy /
    AWSManagedPolicy selects no entity (they are not entities that use a policy).
    """
    arn = str(params["PolicyArn"])
    policy = authorized_policy(ctx, arn)
    entity_filter = params.get("EntityFilter")
    usage = params.get("PolicyUsageFilter")
    prefix = params.get("PathPrefix")
    marker = split_marker(decode_marker(params.get("Marker")), 3)
    items: list[tuple[str, str, str, str, str, str]] = []
    for rank, kind, _list, _name, _id, table, key, att in _KINDS:
        if entity_filter and entity_filter != kind:
            continue
        conditions = []
        if usage != "PermissionsBoundary":
            conditions.append(
                table.c[key].in_(select(att.c[key]).where(att.c.policy_id == policy.policy_id))
            )
        if usage != "PermissionsPolicy" and "permissions_boundary_arn" in table.c:
            conditions.append(table.c.permissions_boundary_arn == policy.arn)
        if not conditions:
            continue
        stmt = select(table.c.name, table.c.name_lower, table.c[key]).where(
            table.c.account_id == ctx.account_id, or_(*conditions)
        )
        if prefix:
            stmt = stmt.where(table.c.path.startswith(prefix, autoescape=True))
        for name, name_lower, entity_id in ctx.conn.execute(stmt).all():
            items.append((rank, name_lower, entity_id, kind, name, str(entity_id)))
    items.sort()
    if marker is not None:
        items = [i for i in items if (i[0], i[1], i[2]) > tuple(marker)]
    page, tail = finish_page(
        items[: limit_of(params)], params, lambda i: SEPARATOR.join((i[0], i[1], i[2]))
    )
    out: dict[str, Any] = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []}
    fields = {kind: (lst, nm, idf) for _r, kind, lst, nm, idf, *_ in _KINDS}
    for _rank, _lower, _id, kind, name, entity_id in page:
        lst, name_field, id_field = fields[kind]
        out[lst].append({name_field: name, id_field: entity_id})
    return {**out, **tail}
