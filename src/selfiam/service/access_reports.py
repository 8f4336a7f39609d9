"""Service last accessed, computed from selfiam's own trail (issue 15).

The audit writer keeps, beside each batch of audit records, the latest authenticated request
of every IAM user and role per action (``action_last_used``, one row per pair). A report on
an entity (a user, a group, a role or a managed policy) is then:

- the services its policies **allow** — every service an Allow statement's Action (or
  NotAction) can match in AWS's action catalog, as AWS lists them, whether used or not;
- for each, the last attempt of any of the entity's principals (a user; a role's sessions;
  a group's members; a policy's users, roles and groups' members), who made it, where,
  and how many principals attempted it; at ``ACTION_LEVEL``, the same per action of the
  services whose actions selfiam tracks (``iam`` and ``sts``: the only ones it serves).

Its cost is the principals' rows, read by primary key: bounded by the principals times the
actions they used, never by the length of the trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from selfiam.catalog import Catalog
from selfiam.domain.arns import ArnError, parse_iam_arn, role_arn, user_arn
from selfiam.domain.errors import InvalidInput, NoSuchEntity
from selfiam.policy import Policy
from selfiam.service.principals import attached_policies, inline_policies, managed_policy_by_arn
from selfiam.store import tables as t

#: The services whose actions selfiam tracks one by one (AWS tracks some of S3, EC2, IAM and
#: Lambda; selfiam serves IAM and STS, and knows every request made to them).
TRACKED_SERVICES = ("iam", "sts")
#: The principals read per statement (an IN list of primary keys).
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or a role whose requests a report counts."""

    kind: str  # USER | ROLE
    id: str
    name: str
    path: str
    arn: str


@dataclass(frozen=True, slots=True)
class GrantingPolicy:
    """A policy that applies to the entity, and where it is (ListPoliciesGrantingServiceAccess)."""

    name: str
    policy: Policy
    arn: str | None  # managed policies
    entity_type: str | None  # inline policies: USER | GROUP | ROLE
    entity_name: str | None


@dataclass
class Entity:
    """The entity a report is about: its principals and the policies that apply to it."""

    kind: str  # user | group | role | policy
    arn: str
    principals: list[Principal] = field(default_factory=list)
    policies: list[GrantingPolicy] = field(default_factory=list)


def resolve_entity(conn: Connection, account_id: str, arn: str) -> Entity:
    """The user, group, role or managed policy ``arn`` names in the caller's account (or an
    AWS managed policy): InvalidInput for what is not such an ARN, NoSuchEntity for one
    that does not exist."""
    try:
        parsed = parse_iam_arn(arn)
    except ArnError:
        raise InvalidInput(f"ARN {arn} is not valid.") from None
    kind = parsed.resource_type
    if kind not in ("user", "group", "role", "policy"):
        raise InvalidInput(f"ARN {arn} is not valid.")
    owners = (account_id, "aws") if kind == "policy" else (account_id,)
    if parsed.account not in owners:
        raise NoSuchEntity(f"The entity {arn} does not exist.")
    entity = Entity(kind, arn)
    if kind == "user":
        row = _row(conn, t.users, account_id, parsed.name, parsed.path, arn)
        entity.principals.append(Principal("USER", row.user_id, row.name, row.path, arn))
        entity.policies = _owner_policies(conn, "user", row.user_id, row.name)
        for group in _groups_of(conn, row.user_id):
            entity.policies += _owner_policies(conn, "group", group.group_id, group.name)
    elif kind == "role":
        row = _row(conn, t.roles, account_id, parsed.name, parsed.path, arn)
        entity.principals.append(Principal("ROLE", row.role_id, row.name, row.path, arn))
        entity.policies = _owner_policies(conn, "role", row.role_id, row.name)
    elif kind == "group":
        row = _row(conn, t.groups, account_id, parsed.name, parsed.path, arn)
        entity.principals = _members(conn, [row.group_id], account_id)
        entity.policies = _owner_policies(conn, "group", row.group_id, row.name)
    else:
        entity.principals, entity.policies = _policy_entity(conn, account_id, arn)
    return entity


def _row(conn: Connection, table: Any, account_id: str, name: str, path: str, arn: str) -> Any:
    row = conn.execute(
        select(table).where(table.c.account_id == account_id, table.c.name_lower == name.lower())
    ).first()
    if row is None or row.path != path or row.name != name:
        raise NoSuchEntity(f"The entity {arn} does not exist.")
    return row


def _owner_policies(
    conn: Connection, owner_type: str, owner_id: str, owner_name: str
) -> list[GrantingPolicy]:
    found = [
        GrantingPolicy(name, policy, None, owner_type.upper(), owner_name)
        for name, policy in inline_policies(conn, owner_type, owner_id, owner_name, ordered=True)
    ]
    found += [
        GrantingPolicy(arn.rsplit("/", 1)[1], policy, arn, None, None)
        for arn, policy in attached_policies(conn, owner_type, owner_id, ordered=True)
    ]
    return found


def _groups_of(conn: Connection, user_id: str) -> list[Any]:
    gm, g = t.group_members, t.groups
    return list(
        conn.execute(
            select(g.c.group_id, g.c.name)
            .select_from(gm.join(g, gm.c.group_id == g.c.group_id))
            .where(gm.c.user_id == user_id)
            .order_by(g.c.name_lower)
        ).all()
    )


def _members(conn: Connection, group_ids: Sequence[str], account_id: str) -> list[Principal]:
    if not group_ids:
        return []
    gm, u = t.group_members, t.users
    rows = conn.execute(
        select(u.c.user_id, u.c.name, u.c.path)
        .select_from(gm.join(u, gm.c.user_id == u.c.user_id))
        .where(gm.c.group_id.in_(list(group_ids)))
        .distinct()
        .order_by(u.c.name)
    ).all()
    return [
        Principal("USER", r.user_id, r.name, r.path, user_arn(account_id, r.name, r.path))
        for r in rows
    ]


def _policy_entity(
    conn: Connection, account_id: str, arn: str
) -> tuple[list[Principal], list[GrantingPolicy]]:
    mp = t.managed_policies
    policy_row = conn.execute(
        select(mp.c.policy_id, mp.c.name).where(
            mp.c.arn == arn, (mp.c.account_id == account_id) | mp.c.account_id.is_(None)
        )
    ).first()
    policy = managed_policy_by_arn(conn, arn) if policy_row is not None else None
    if policy_row is None or policy is None:
        raise NoSuchEntity(f"The entity {arn} does not exist.")
    pid = policy_row.policy_id
    u, r = t.users, t.roles
    users = conn.execute(
        select(u.c.user_id, u.c.name, u.c.path)
        .select_from(
            t.user_policy_attachments.join(u, t.user_policy_attachments.c.user_id == u.c.user_id)
        )
        .where(t.user_policy_attachments.c.policy_id == pid, u.c.account_id == account_id)
    ).all()
    roles = conn.execute(
        select(r.c.role_id, r.c.name, r.c.path)
        .select_from(
            t.role_policy_attachments.join(r, t.role_policy_attachments.c.role_id == r.c.role_id)
        )
        .where(t.role_policy_attachments.c.policy_id == pid, r.c.account_id == account_id)
    ).all()
    group_ids = (
        conn.execute(
            select(t.group_policy_attachments.c.group_id)
            .select_from(
                t.group_policy_attachments.join(
                    t.groups, t.group_policy_attachments.c.group_id == t.groups.c.group_id
                )
            )
            .where(
                t.group_policy_attachments.c.policy_id == pid, t.groups.c.account_id == account_id
            )
        )
        .scalars()
        .all()
    )
    principals = {
        p.id: p
        for p in [
            Principal("USER", x.user_id, x.name, x.path, user_arn(account_id, x.name, x.path))
            for x in users
        ]
        + _members(conn, group_ids, account_id)
        + [
            Principal("ROLE", x.role_id, x.name, x.path, role_arn(account_id, x.name, x.path))
            for x in roles
        ]
    }
    granting = GrantingPolicy(policy_row.name, policy, arn, None, None)
    return sorted(principals.values(), key=lambda p: (p.kind, p.name)), [granting]


# -- what the policies allow -------------------------------------------------------------


def granted_services(policies: Iterable[Policy], catalog: Catalog) -> dict[str, set[str]]:
    """namespace -> the names of its actions an Allow statement of ``policies`` can match
    (whatever its resources and conditions: AWS lists a service a policy grants at all)."""
    granted: dict[str, set[str]] = {}
    for policy in policies:
        for statement in policy.statements:
            if not statement.is_allow:
                continue
            if statement.not_action:
                for service in catalog.services():
                    missed = {
                        a.name
                        for a in service.actions.values()
                        if not any(p.matches(a.full_name) for p in statement.actions)
                    }
                    if missed:
                        granted.setdefault(service.prefix, set()).update(missed)
                continue
            for pattern in statement.actions:
                for action in catalog.matching(pattern):
                    granted.setdefault(action.service, set()).add(action.name)
    return granted


# -- the report --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Use:
    principal: Principal
    action: str  # service:Name
    at: datetime
    region: str


def uses_of(conn: Connection, principals: Sequence[Principal]) -> list[Use]:
    """Every (principal, action) last use of ``principals``, read by primary key."""
    by_id = {p.id: p for p in principals}
    ids = list(by_id)
    alu = t.action_last_used
    found: list[Use] = []
    for start in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            select(alu.c.principal_id, alu.c.action, alu.c.last_at, alu.c.region).where(
                alu.c.principal_id.in_(ids[start : start + _CHUNK])
            )
        ).all()
        found += [Use(by_id[r.principal_id], r.action, r.last_at, r.region) for r in rows]
    return found


def build_report(
    entity: Entity, found: Sequence[Use], granularity: str, catalog: Catalog
) -> dict[str, Any]:
    """The report stored with a job: ``services`` (AWS's ServicesLastAccessed items, with
    timestamps as ISO strings), ``principals`` (each once: AWS's EntityInfo) and ``used``
    (namespace -> {principal's index: its last attempt}): its size is the services plus the
    principals plus the uses, not their product."""
    granted = granted_services((g.policy for g in entity.policies), catalog)
    uses: dict[str, list[Use]] = {}
    for use in found:
        uses.setdefault(use.action.partition(":")[0], []).append(use)
    services: list[dict[str, Any]] = []
    index = {p.id: i for i, p in enumerate(entity.principals)}
    used_by: dict[str, dict[str, str]] = {}
    for namespace in sorted(granted):
        service = catalog.service(namespace)
        item: dict[str, Any] = {
            "ServiceName": service.name if service else namespace,
            "ServiceNamespace": namespace,
            "TotalAuthenticatedEntities": 0,
        }
        used = uses.get(namespace, [])
        last_by_principal: dict[str, Use] = {}
        for use in used:
            seen = last_by_principal.get(use.principal.id)
            if seen is None or use.at > seen.at:
                last_by_principal[use.principal.id] = use
        if last_by_principal:
            latest = max(last_by_principal.values(), key=lambda u: u.at)
            item.update(
                LastAuthenticated=latest.at.isoformat(),
                LastAuthenticatedEntity=latest.principal.arn,
                LastAuthenticatedRegion=latest.region,
                TotalAuthenticatedEntities=len(last_by_principal),
            )
        if granularity == "ACTION_LEVEL" and namespace in TRACKED_SERVICES:
            item["TrackedActionsLastAccessed"] = _tracked(granted[namespace], used)
        services.append(item)
        used_by[namespace] = {
            str(index[pid]): use.at.isoformat() for pid, use in last_by_principal.items()
        }
    principals = [
        {"Arn": p.arn, "Name": p.name, "Type": p.kind, "Id": p.id, "Path": p.path}
        for p in entity.principals
    ]
    return {"services": services, "principals": principals, "used": used_by}


def entity_details(report: dict[str, Any], namespace: str) -> list[dict[str, Any]] | None:
    """AWS's EntityDetailsList of a stored report for ``namespace`` (None: not granted): the
    principals who used it, the latest first, then the others."""
    used = report["used"].get(namespace)
    if used is None:
        return None
    principals = report["principals"]
    details = [
        {"EntityInfo": principals[int(i)], "LastAuthenticated": when}
        for i, when in sorted(used.items(), key=lambda item: item[1], reverse=True)
    ]
    details += [{"EntityInfo": p} for i, p in enumerate(principals) if str(i) not in used]
    return details


def report_for(conn: Connection, entity: Entity, granularity: str) -> dict[str, Any]:
    """Read the entity's principals' uses and build its report."""
    return build_report(entity, uses_of(conn, entity.principals), granularity, Catalog.load())


def _tracked(actions: set[str], used: list[Use]) -> list[dict[str, Any]]:
    latest: dict[str, Use] = {}
    for use in used:
        name = use.action.partition(":")[2].lower()
        seen = latest.get(name)
        if seen is None or use.at > seen.at:
            latest[name] = use
    out: list[dict[str, Any]] = []
    for name in sorted(actions, key=str.lower):
        item: dict[str, Any] = {"ActionName": name}
        last = latest.get(name.lower())
        if last is not None:
            item.update(
                LastAccessedEntity=last.principal.arn,
                LastAccessedTime=last.at.isoformat(),
                LastAccessedRegion=last.region,
            )
        out.append(item)
    return out
