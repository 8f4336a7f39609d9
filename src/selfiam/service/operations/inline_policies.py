"""Inline policies of users, groups and roles: Put, Get, List and Delete.

AWS's quota is on the *aggregate* size of an entity's inline policies (user
2,048, group 5,120, role 10,240 characters, white space not counted), not on each one. The
check sums the stored documents after locking the owner's row, so two
concurrent Puts cannot both squeeze under the quota (DESIGN rule 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from selfiam.domain.errors import AwsError, LimitExceeded, NoSuchEntity
from selfiam.policy import POLICY_SIZE_LIMITS, PolicyKind, policy_size
from selfiam.service.context import OperationContext
from selfiam.service.operations.policy_common import (
    PolicyOwner,
    quote_document,
    register_for,
    validate_document,
)
from selfiam.service.pagination import decode_marker, finish_page, limit_of
from selfiam.store import tables as t
from selfiam.store.locks import lock_row


@dataclass(frozen=True)
class _Owner(PolicyOwner):
    policy_kind: PolicyKind

    def not_found(self, policy_name: str) -> AwsError:
        return NoSuchEntity(f"The {self.kind} policy with name {policy_name} cannot be found.")


USER = _Owner("user", "UserName", t.users, "user_id", PolicyKind.INLINE_USER)
GROUP = _Owner("group", "GroupName", t.groups, "group_id", PolicyKind.INLINE_GROUP)
ROLE = _Owner("role", "RoleName", t.roles, "role_id", PolicyKind.INLINE_ROLE)


def inline_documents(conn: Connection, owner_type: str, owner_id: str) -> list[tuple[str, str]]:
    """(name, document) of every inline policy of one owner, by name."""
    ip = t.inline_policies
    rows = conn.execute(
        select(ip.c.name, ip.c.document)
        .where(ip.c.owner_type == owner_type, ip.c.owner_id == owner_id)
        .order_by(ip.c.name)
    ).all()
    return [(name, document) for name, document in rows]


def _put(ctx: OperationContext, owner: _Owner, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params[owner.name_param])
    policy_name = str(params["PolicyName"])
    document = str(params["PolicyDocument"])
    entity = owner.authorized(ctx, name)
    owner.check_modifiable(ctx, entity)
    validate_document(document, owner.policy_kind, entity.name)

    owner_id = entity._mapping[owner.key]
    lock_row(ctx.conn, owner.table, owner.table.c[owner.key], owner_id)
    others = [
        doc for n, doc in inline_documents(ctx.conn, owner.kind, owner_id) if n != policy_name
    ]
    limit = POLICY_SIZE_LIMITS[owner.policy_kind]
    if sum(map(policy_size, others)) + policy_size(document) > limit:
        raise LimitExceeded(
            f"Maximum policy size of {limit} bytes exceeded for {owner.kind} {entity.name}"
        )
    ip = t.inline_policies
    now = ctx.info.now
    where = (
        (ip.c.owner_type == owner.kind) & (ip.c.owner_id == owner_id) & (ip.c.name == policy_name)
    )
    replaced = ctx.conn.execute(update(ip).where(where).values(document=document, updated_at=now))
    if not replaced.rowcount:
        ctx.conn.execute(
            ip.insert().values(
                owner_type=owner.kind,
                owner_id=owner_id,
                name=policy_name,
                document=document,
                created_at=now,
                updated_at=now,
            )
        )
    ctx.changed_entity(owner.kind, entity._mapping[owner.key])
    return {}


def _get(ctx: OperationContext, owner: _Owner, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params[owner.name_param])
    policy_name = str(params["PolicyName"])
    entity = owner.authorized(ctx, name)
    ip = t.inline_policies
    row = ctx.conn.execute(
        select(ip.c.name, ip.c.document).where(
            ip.c.owner_type == owner.kind,
            ip.c.owner_id == entity._mapping[owner.key],
            ip.c.name == policy_name,
        )
    ).first()
    if row is None:
        raise owner.not_found(policy_name)
    return {
        owner.name_param: entity.name,
        "PolicyName": row.name,
        "PolicyDocument": quote_document(row.document),
    }


def _list(ctx: OperationContext, owner: _Owner, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params[owner.name_param])
    entity = owner.authorized(ctx, name)
    ip = t.inline_policies
    stmt = select(ip.c.name).where(
        ip.c.owner_type == owner.kind, ip.c.owner_id == entity._mapping[owner.key]
    )
    marker = decode_marker(params.get("Marker"))
    if marker is not None:
        stmt = stmt.where(ip.c.name > marker)
    names = list(ctx.conn.execute(stmt.order_by(ip.c.name).limit(limit_of(params))).scalars())
    page, tail = finish_page(names, params, lambda n: n)
    return {"PolicyNames": list(page), **tail}


def _delete(ctx: OperationContext, owner: _Owner, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params[owner.name_param])
    policy_name = str(params["PolicyName"])
    entity = owner.authorized(ctx, name)
    owner.check_modifiable(ctx, entity)
    ip = t.inline_policies
    deleted = ctx.conn.execute(
        delete(ip).where(
            ip.c.owner_type == owner.kind,
            ip.c.owner_id == entity._mapping[owner.key],
            ip.c.name == policy_name,
        )
    )
    if not deleted.rowcount:
        raise owner.not_found(policy_name)
    ctx.changed_entity(owner.kind, entity._mapping[owner.key])
    return {}


for _owner in (USER, GROUP, ROLE):
    register_for(_owner, "Put{Kind}Policy", _put)
    register_for(_owner, "Get{Kind}Policy", _get, writes=False)
    register_for(_owner, "List{Kind}Policies", _list, writes=False)
    register_for(_owner, "Delete{Kind}Policy", _delete, light=True)
