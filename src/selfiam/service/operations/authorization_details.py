"""GetAccountAuthorizationDetails: every user, group, role and managed policy in use, in one
paginated answer.

The answer is one sequence — users, then groups, roles, customer managed
policies and AWS managed policies, each by name — cut into pages of MaxItems
entities; the marker is the last entity's (section, name, id). AWS managed
policies are listed only when something in the account uses them, as AWS does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Row, Select, Table, or_, select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import role_arn
from selfiam.service.context import OperationContext
from selfiam.service.lookup import user_shape
from selfiam.service.operations.attachments import GROUP, ROLE, USER, attached_policies
from selfiam.service.operations.groups import group_shape
from selfiam.service.operations.inline_policies import inline_documents
from selfiam.service.operations.instance_profiles import profiles_of_roles
from selfiam.service.operations.policy_common import (
    AWS_NAMESPACE,
    SEPARATOR,
    after_marker,
    attached_policy_ids,
    boundary_arns,
    policy_shape,
    policy_with_counts,
    quote_document,
    split_marker,
    version_number,
)
from selfiam.service.operations.tags import load_tags, tag_list
from selfiam.service.pagination import decode_marker, finish_page, limit_of
from selfiam.service.principals import user_groups
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


def _inline(conn: Connection, owner_type: str, owner_id: str) -> list[dict[str, str]]:
    return [
        {"PolicyName": name, "PolicyDocument": quote_document(doc)}
        for name, doc in inline_documents(conn, owner_type, owner_id)
    ]


def _boundary(arn: str | None) -> dict[str, Any]:
    if not arn:
        return {}
    return {
        "PermissionsBoundary": {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": arn,
        }
    }


def _user(conn: Connection, account_id: str, row: Row[Any]) -> dict[str, Any]:
    out = user_shape(row, account_id)
    out.pop("PasswordLastUsed", None)
    out["GroupList"] = [name for _, name in user_groups(conn, row.user_id, ordered=True)]
    out["UserPolicyList"] = _inline(conn, "user", row.user_id)
    out["AttachedManagedPolicies"] = attached_policies(conn, USER, row.user_id)[0]
    out["Tags"] = tag_list(load_tags(conn, "user", row.user_id))
    return out


def _group(conn: Connection, account_id: str, row: Row[Any]) -> dict[str, Any]:
    return {
        **group_shape(row, account_id),
        "GroupPolicyList": _inline(conn, "group", row.group_id),
        "AttachedManagedPolicies": attached_policies(conn, GROUP, row.group_id)[0],
    }


def _role(conn: Connection, account_id: str, row: Row[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": row.path,
        "RoleName": row.name,
        "RoleId": row.role_id,
        "Arn": role_arn(account_id, row.name, row.path),
        "CreateDate": row.created_at,
        "AssumeRolePolicyDocument": quote_document(shown_trust(conn, [row])[row.role_id]),
        "InstanceProfileList": profiles_of_roles(conn, account_id, [row.role_id]).get(
            row.role_id, []
        ),
        "RolePolicyList": _inline(conn, "role", row.role_id),
        "AttachedManagedPolicies": attached_policies(conn, ROLE, row.role_id)[0],
        **_boundary(row.permissions_boundary_arn),
        "Tags": tag_list(load_tags(conn, "role", row.role_id)),
        "RoleLastUsed": {},
    }
    if row.last_used_at is not None:
        out["RoleLastUsed"] = {"LastUsedDate": row.last_used_at, "Region": row.last_used_region}
    return out


def _policy(conn: Connection, account_id: str, row: Row[Any]) -> dict[str, Any]:
    pv = t.policy_versions
    versions = sorted(
        conn.execute(select(pv).where(pv.c.policy_id == row.policy_id)).all(),
        key=lambda v: version_number(v.version_id),
        reverse=True,
    )
    out = policy_shape(row)
    out["PolicyVersionList"] = [
        {
            "Document": quote_document(v.document),
            "VersionId": v.version_id,
            "IsDefaultVersion": v.version_id == row.default_version_id,
            "CreateDate": v.created_at,
        }
        for v in versions
    ]
    return out


Builder = Callable[[Connection, str, Row[Any]], dict[str, Any]]

#: (rank, Filter value, output list, query, detail builder), in answer order.
_SECTIONS: tuple[tuple[str, str, str, Callable[[str], Any], Builder], ...] = (
    ("1", "User", "UserDetailList", lambda a: _entities(t.users, "user_id", a), _user),
    ("2", "Group", "GroupDetailList", lambda a: _entities(t.groups, "group_id", a), _group),
    ("3", "Role", "RoleDetailList", lambda a: _entities(t.roles, "role_id", a), _role),
    ("4", "LocalManagedPolicy", "Policies", lambda a: _policies(a, aws=False), _policy),
    ("5", "AWSManagedPolicy", "Policies", lambda a: _policies(a, aws=True), _policy),
)


@operation("GetAccountAuthorizationDetails", writes=False)
def get_account_authorization_details(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    ctx.authorize("*")
    wanted = set(params.get("Filter") or ()) or {s[1] for s in _SECTIONS}
    marker = split_marker(decode_marker(params.get("Marker")), 3)
    limit = limit_of(params)
    items: list[Item] = []
    for rank, kind, _out, query, _build in _SECTIONS:
        if kind not in wanted or len(items) >= limit:
            continue
        if marker is not None and rank < marker[0]:
            continue
        stmt, sort_name, sort_id = query(ctx.account_id)
        if marker is not None and rank == marker[0]:
            stmt = stmt.where(after_marker([sort_name, sort_id], marker[1:]))
        rows = ctx.conn.execute(stmt.order_by(sort_name, sort_id).limit(limit - len(items))).all()
        items += [(rank, r._mapping[sort_name.key], r._mapping[sort_id.key], r) for r in rows]
    page, tail = finish_page(items, params, lambda i: SEPARATOR.join(i[:3]))
    out: dict[str, Any] = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    sections = {s[0]: s for s in _SECTIONS}
    for rank, _name, _id, row in page:
        _r, _kind, name, _query, build = sections[rank]
        out[name].append(build(ctx.conn, ctx.account_id, row))
    return {**out, **tail}
