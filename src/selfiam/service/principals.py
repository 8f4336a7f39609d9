"""Load the policies that apply to a user (inline, attached, through groups, and the
boundary) or to the sessions of a role (its inline and attached policies, its boundary)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, bindparam, select
from sqlalchemy.engine import Connection

from selfiam.policy import Policy, PolicyKind, PolicySet
from selfiam.service.compiled import compiled_policy
from selfiam.store import change_feed as feed
from selfiam.store import tables as t


@dataclass(frozen=True, slots=True)
class PrincipalPolicies:
    identity: PolicySet
    boundary: PolicySet | None = None
    session: PolicySet | None = None
    #: The change keys (store/change_feed.py) a cached copy depends on: its user or role,
    #: its groups, every managed policy attached to it or them, its boundary.
    depends_on: tuple[str, ...] = ()


#: The policy kind of an inline policy, by the type of the entity it is in.
INLINE_KINDS = {
    "user": PolicyKind.INLINE_USER,
    "group": PolicyKind.INLINE_GROUP,
    "role": PolicyKind.INLINE_ROLE,
}


# The statements below are built once: a change to a user, a group or a policy reloads the
# policies of every principal depending on it (service/invalidation.py), and building them
# per call was most of that reload's cost.


def _attached_statement(attachments: Table, owner_col: str) -> Any:
    mp, pv = t.managed_policies, t.policy_versions
    return (
        select(mp.c.arn, pv.c.document)
        .select_from(
            attachments.join(mp, attachments.c.policy_id == mp.c.policy_id).join(
                pv,
                and_(pv.c.policy_id == mp.c.policy_id, pv.c.version_id == mp.c.default_version_id),
            )
        )
        .where(attachments.c[owner_col] == bindparam("owner_id"))
    )


_ATTACHED = {
    owner_type: _attached_statement(table, col)
    for owner_type, table, col in (
        ("user", t.user_policy_attachments, "user_id"),
        ("group", t.group_policy_attachments, "group_id"),
        ("role", t.role_policy_attachments, "role_id"),
    )
}
_INLINE = select(t.inline_policies.c.name, t.inline_policies.c.document).where(
    t.inline_policies.c.owner_type == bindparam("owner_type"),
    t.inline_policies.c.owner_id == bindparam("owner_id"),
)
_USER = select(t.users.c.name, t.users.c.permissions_boundary_arn).where(
    t.users.c.user_id == bindparam("user_id")
)
_ROLE = select(t.roles.c.name, t.roles.c.permissions_boundary_arn).where(
    t.roles.c.role_id == bindparam("role_id")
)
_GROUPS = (
    select(t.groups.c.group_id, t.groups.c.name)
    .select_from(t.group_members.join(t.groups, t.group_members.c.group_id == t.groups.c.group_id))
    .where(t.group_members.c.user_id == bindparam("user_id"))
)
_USER_TAGS = select(t.tags.c.key, t.tags.c.value).where(
    t.tags.c.resource_type == "user", t.tags.c.resource_id == bindparam("user_id")
)


def attached_policies(
    conn: Connection, owner_type: str, owner_id: str, *, ordered: bool = False
) -> list[tuple[str, Policy]]:
    """(ARN, policy) of each managed policy attached to the entity; by ARN if ``ordered``."""
    statement = _ATTACHED[owner_type]
    if ordered:
        statement = statement.order_by(t.managed_policies.c.arn)
    rows = conn.execute(statement, {"owner_id": owner_id}).all()
    return [(arn, compiled_policy(doc, PolicyKind.MANAGED, arn)) for arn, doc in rows]


def inline_policies(
    conn: Connection, owner_type: str, owner_id: str, owner_name: str, *, ordered: bool = False
) -> list[tuple[str, Policy]]:
    """(name, policy) of each inline policy in the entity; by name if ``ordered``."""
    statement = _INLINE.order_by(t.inline_policies.c.name) if ordered else _INLINE
    rows = conn.execute(statement, {"owner_type": owner_type, "owner_id": owner_id}).all()
    kind = INLINE_KINDS[owner_type]
    return [
        (name, compiled_policy(doc, kind, f"{owner_type}/{owner_name}/{name}"))
        for name, doc in rows
    ]


def user_groups(conn: Connection, user_id: str, *, ordered: bool = False) -> list[Any]:
    """(group_id, name) of each group the user is in; by name, case-insensitively, if
    ``ordered``."""
    statement = _GROUPS.order_by(t.groups.c.name_lower) if ordered else _GROUPS
    return list(conn.execute(statement, {"user_id": user_id}).all())


def managed_policy_by_arn(conn: Connection, arn: str) -> Policy | None:
    mp, pv = t.managed_policies, t.policy_versions
    row = conn.execute(
        select(pv.c.document)
        .select_from(
            mp.join(
                pv,
                and_(pv.c.policy_id == mp.c.policy_id, pv.c.version_id == mp.c.default_version_id),
            )
        )
        .where(mp.c.arn == arn)
    ).first()
    return None if row is None else compiled_policy(row[0], PolicyKind.BOUNDARY, arn)


def load_user_policies(conn: Connection, user_id: str) -> PrincipalPolicies | None:
    """Every policy that applies to the user, or None if the user no longer exists."""
    user = conn.execute(_USER, {"user_id": user_id}).first()
    if user is None:
        return None
    name, boundary_arn = user
    found = inline_policies(conn, "user", user_id, name)
    attached = attached_policies(conn, "user", user_id)
    depends = [feed.key(feed.USER, user_id)]
    for group_id, group_name in user_groups(conn, user_id):
        found += inline_policies(conn, "group", group_id, group_name)
        attached += attached_policies(conn, "group", group_id)
        depends.append(feed.key(feed.GROUP, group_id))
    return _principal(conn, found + attached, boundary_arn, depends, attached)


def load_role_policies(conn: Connection, role_id: str) -> PrincipalPolicies | None:
    """Every policy that applies to the sessions of a role (before their session
    policies), or None if the role no longer exists."""
    role = conn.execute(_ROLE, {"role_id": role_id}).first()
    if role is None:
        return None
    name, boundary_arn = role
    found = inline_policies(conn, "role", role_id, name)
    attached = attached_policies(conn, "role", role_id)
    depends = [feed.key(feed.ROLE, role_id)]
    return _principal(conn, found + attached, boundary_arn, depends, attached)


def _principal(
    conn: Connection,
    found: list[tuple[str, Policy]],
    boundary_arn: str | None,
    depends: list[str],
    attached: list[tuple[str, Policy]],
) -> PrincipalPolicies:
    policies = [policy for _, policy in found]
    depends += (feed.key(feed.POLICY, arn) for arn, _ in attached)
    boundary = None
    if boundary_arn:
        boundary_policy = managed_policy_by_arn(conn, boundary_arn)
        boundary = PolicySet([boundary_policy] if boundary_policy else [])
        depends.append(feed.key(feed.POLICY, boundary_arn))
    return PrincipalPolicies(
        identity=PolicySet(policies), boundary=boundary, depends_on=tuple(dict.fromkeys(depends))
    )


def load_user_tags(conn: Connection, user_id: str) -> tuple[tuple[str, str], ...]:
    rows = conn.execute(_USER_TAGS, {"user_id": user_id}).all()
    return tuple((k, v) for k, v in rows)
