"""GetAccountAuthorizationDetails: every user, group, role and managed policy in use, in one
paginated answer.

The answer is one sequence — users, then groups, roles, customer managed
policies and AWS managed policies, each by name — cut into pages of MaxItems
entities; the marker is the last entity's (section, name, id). AWS managed
policies are listed only when something in the account uses them, as AWS does.

A page costs what it returns (DESIGN rule 8): the keyset query of each section fetches at
most MaxItems + 1 rows after the marker, then each kind of detail (groups, inline and
attached policies, tags, versions, trust, instance profiles) is one query for the whole
page, by an IN list of the page's ids. Policies' usage counts are probes of indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Row, Select, Table, or_, select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import role_arn
from selfiam.domain.errors import ValidationError
from selfiam.service.context import OperationContext
from selfiam.service.lookup import user_shape
from selfiam.service.operations.attachments import GROUP, ROLE, USER
from selfiam.service.operations.groups import group_shape
from selfiam.service.operations.instance_profiles import profiles_of_roles
from selfiam.service.operations.policy_common import (
    AWS_NAMESPACE,
    SEPARATOR,
    attached_policy_ids,
    boundary_arns,
    policy_shape,
    policy_with_counts,
    quote_document,
    split_marker,
    version_number,
)
from selfiam.service.pagination import decode_marker, finish_page, limit_of
from selfiam.service.registry import operation
from selfiam.service.trust_principals import shown_trust
from selfiam.store import tables as t

Item = tuple[str, str, str, Row[Any]]


def _entities(table: Table, key: str, account_id: str) -> tuple[Select[Any], Any, Any]:
    stmt = select(table).where(table.c.account_id == account_id)
    return stmt, table.c.name_lower, table.c[key]


def _policies(account_id: str, aws: bool) -> tuple[Select[Any], Any, Any]:
    mp = t.managed_policies
    base = policy_with_counts(account_id).where(
        mp.c.namespace == (AWS_NAMESPACE if aws else account_id)
    )
    if aws:  # the AWS policies the account uses: found from its attachments, not all 1,594
        base = base.where(
            or_(
                mp.c.policy_id.in_(attached_policy_ids(account_id)),
                mp.c.arn.in_(boundary_arns(account_id)),
            )
        )
    q = base.subquery()
    return select(q), q.c.name_lower, q.c.arn


Ids = list[str]


def _grouped(rows: Any) -> dict[str, list[Any]]:
    """Rows whose first column is an owner id, grouped by it (order kept)."""
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(row[0], []).append(row)
    return out


def _inline(conn: Connection, owner_type: str, ids: Ids) -> dict[str, list[dict[str, str]]]:
    """owner id -> its inline policies, by name: one query for the page."""
    ip = t.inline_policies
    rows = conn.execute(
        select(ip.c.owner_id, ip.c.name, ip.c.document)
        .where(ip.c.owner_type == owner_type, ip.c.owner_id.in_(ids))
        .order_by(ip.c.owner_id, ip.c.name)
    )
    return {
        owner: [{"PolicyName": r.name, "PolicyDocument": quote_document(r.document)} for r in rs]
        for owner, rs in _grouped(rows).items()
    }


def _attached(conn: Connection, owner: Any, ids: Ids) -> dict[str, list[dict[str, str]]]:
    """owner id -> its attached managed policies (name and ARN), by name: one query."""
    att, mp = owner.attachments, t.managed_policies
    rows = conn.execute(
        select(att.c[owner.key], mp.c.name, mp.c.arn)
        .select_from(att.join(mp, att.c.policy_id == mp.c.policy_id))
        .where(att.c[owner.key].in_(ids))
        .order_by(mp.c.name_lower, mp.c.arn)
    )
    return {
        key: [{"PolicyName": r.name, "PolicyArn": r.arn} for r in rs]
        for key, rs in _grouped(rows).items()
    }


def _tags(conn: Connection, resource_type: str, ids: Ids) -> dict[str, list[dict[str, str]]]:
    tg = t.tags
    rows = conn.execute(
        select(tg.c.resource_id, tg.c.key, tg.c.value)
        .where(tg.c.resource_type == resource_type, tg.c.resource_id.in_(ids))
        .order_by(tg.c.key_lower)
    )
    return {
        key: [{"Key": r.key, "Value": r.value} for r in rs] for key, rs in _grouped(rows).items()
    }


def _groups_of(conn: Connection, ids: Ids) -> dict[str, list[str]]:
    gm, g = t.group_members, t.groups
    rows = conn.execute(
        select(gm.c.user_id, g.c.name)
        .select_from(gm.join(g, g.c.group_id == gm.c.group_id))
        .where(gm.c.user_id.in_(ids))
        .order_by(g.c.name_lower)
    )
    return {key: [r.name for r in rs] for key, rs in _grouped(rows).items()}


def _boundary(arn: str | None) -> dict[str, Any]:
    if not arn:
        return {}
    return {
        "PermissionsBoundary": {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": arn,
        }
    }


def _users(conn: Connection, account_id: str, rows: list[Row[Any]]) -> list[dict[str, Any]]:
    ids = [r.user_id for r in rows]
    groups, inline = _groups_of(conn, ids), _inline(conn, "user", ids)
    attached, tags = _attached(conn, USER, ids), _tags(conn, "user", ids)
    out = []
    for row in rows:
        user = user_shape(row, account_id)
        user.pop("PasswordLastUsed", None)
        user["GroupList"] = groups.get(row.user_id, [])
        user["UserPolicyList"] = inline.get(row.user_id, [])
        user["AttachedManagedPolicies"] = attached.get(row.user_id, [])
        user["Tags"] = tags.get(row.user_id, [])
        out.append(user)
    return out


def _groups(conn: Connection, account_id: str, rows: list[Row[Any]]) -> list[dict[str, Any]]:
    ids = [r.group_id for r in rows]
    inline, attached = _inline(conn, "group", ids), _attached(conn, GROUP, ids)
    return [
        {
            **group_shape(row, account_id),
            "GroupPolicyList": inline.get(row.group_id, []),
            "AttachedManagedPolicies": attached.get(row.group_id, []),
        }
        for row in rows
    ]


def _roles(conn: Connection, account_id: str, rows: list[Row[Any]]) -> list[dict[str, Any]]:
    ids = [r.role_id for r in rows]
    trust, profiles = shown_trust(conn, rows), profiles_of_roles(conn, account_id, ids)
    inline, attached = _inline(conn, "role", ids), _attached(conn, ROLE, ids)
    tags = _tags(conn, "role", ids)
    out = []
    for row in rows:
        role: dict[str, Any] = {
            "Path": row.path,
            "RoleName": row.name,
            "RoleId": row.role_id,
            "Arn": role_arn(account_id, row.name, row.path),
            "CreateDate": row.created_at,
            "AssumeRolePolicyDocument": quote_document(trust[row.role_id]),
            "InstanceProfileList": profiles.get(row.role_id, []),
            "RolePolicyList": inline.get(row.role_id, []),
            "AttachedManagedPolicies": attached.get(row.role_id, []),
            **_boundary(row.permissions_boundary_arn),
            "Tags": tags.get(row.role_id, []),
            "RoleLastUsed": {},
        }
        if row.last_used_at is not None:
            role["RoleLastUsed"] = {
                "LastUsedDate": row.last_used_at,
                "Region": row.last_used_region,
            }
        out.append(role)
    return out


def _policies_detail(
    conn: Connection, account_id: str, rows: list[Row[Any]]
) -> list[dict[str, Any]]:
    pv = t.policy_versions
    versions = _grouped(
        conn.execute(
            select(pv.c.policy_id, pv.c.version_id, pv.c.document, pv.c.created_at).where(
                pv.c.policy_id.in_([r.policy_id for r in rows])
            )
        )
    )
    out = []
    for row in rows:
        policy = policy_shape(row)
        mine = sorted(
            versions.get(row.policy_id, []),
            key=lambda v: version_number(v.version_id),
            reverse=True,
        )
        policy["PolicyVersionList"] = [
            {
                "Document": quote_document(v.document),
                "VersionId": v.version_id,
                "IsDefaultVersion": v.version_id == row.default_version_id,
                "CreateDate": v.created_at,
            }
            for v in mine
        ]
        out.append(policy)
    return out


#: Builds the page's entries of one section, with one query per kind of detail.
Builder = Callable[[Connection, str, list[Row[Any]]], list[dict[str, Any]]]

#: (rank, Filter value, output list, query, detail builder), in answer order.
_SECTIONS: tuple[tuple[str, str, str, Callable[[str], Any], Builder], ...] = (
    ("1", "User", "UserDetailList", lambda a: _entities(t.users, "user_id", a), _users),
    ("2", "Group", "GroupDetailList", lambda a: _entities(t.groups, "group_id", a), _groups),
    ("3", "Role", "RoleDetailList", lambda a: _entities(t.roles, "role_id", a), _roles),
    ("4", "LocalManagedPolicy", "Policies", lambda a: _policies(a, aws=False), _policies_detail),
    ("5", "AWSManagedPolicy", "Policies", lambda a: _policies(a, aws=True), _policies_detail),
)


@operation("GetAccountAuthorizationDetails", writes=False)
def get_account_authorization_details(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    ctx.authorize("*")
    wanted = set(params.get("Filter") or ()) or {s[1] for s in _SECTIONS}
    marker = split_marker(decode_marker(params.get("Marker")), 3)
    if marker is not None and marker[0] not in {s[0] for s in _SECTIONS}:
        raise ValidationError("Invalid Marker.")
    limit = limit_of(params)
    items: list[Item] = []
    for rank, kind, _out, query, _build in _SECTIONS:
        if kind not in wanted or len(items) >= limit:
            continue
        if marker is not None and rank < marker[0]:
            continue
        stmt, sort_name, sort_id = query(ctx.account_id)
        if marker is not None and rank == marker[0]:
            # Names are unique within a section (case-insensitively), so the name alone
            # places the page: a range of the (account, name_lower) unique index.
            stmt = stmt.where(sort_name > marker[1])
        rows = ctx.conn.execute(stmt.order_by(sort_name, sort_id).limit(limit - len(items))).all()
        items += [(rank, r._mapping[sort_name.key], r._mapping[sort_id.key], r) for r in rows]
    page, tail = finish_page(items, params, lambda i: SEPARATOR.join(i[:3]))
    out: dict[str, Any] = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    for rank, _kind, name, _query, build in _SECTIONS:
        rows = [row for r, _name, _id, row in page if r == rank]
        if rows:
            out[name].extend(build(ctx.conn, ctx.account_id, rows))
    return {**out, **tail}
