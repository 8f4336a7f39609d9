"""The live sessions of a role, and ending one: ``selfiam:ListRoleSessions`` and
``selfiam:RevokeRoleSession``.

AWS has no such operations (it revokes a role's sessions by attaching a policy that
denies tokens issued before a time); selfiam stores role sessions server-side
(DESIGN rule 9), so it can list them and end one at once. Both are selfiam extensions
in the ``selfiam`` service namespace, as ``selfiam:ReadAuditLog`` is: a policy opens
them by naming the action (or by allowing ``*``, AdministratorAccess); an IAM grant
(``iam:*``, IAMReadOnlyAccess, SelfService) does not. The resource is the role's ARN,
so a policy may open one role's sessions and not another's.

Ending a session ends the sessions chained from it (AssumeRole called with its
credentials, recorded as their ``issuer_access_key_id``), however deep, and bumps the
auth version: every process refuses the ended credentials on their next request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from selfiam.domain.arns import user_arn
from selfiam.domain.errors import NoSuchEntity, ValidationError
from selfiam.service.context import OperationContext
from selfiam.service.lookup import find_role, no_such_role, role_resource
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_row

SERVICE = "selfiam"
LIST = "ListRoleSessions"
REVOKE = "RevokeRoleSession"
DEFAULT_MAX_ITEMS = 100
MAX_ITEMS = 1000


def _role_name(params: Mapping[str, Any]) -> str:
    name = str(params.get("RoleName") or "")
    if not name or len(name) > 64:
        raise ValidationError("RoleName must be a role name of 1 to 64 characters.")
    return name


@operation(LIST, service=SERVICE, writes=False)
def list_role_sessions(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """The role's unexpired sessions, oldest first; paged by MaxItems and an opaque
    Marker (the last session's access key id)."""
    name = _role_name(params)
    ctx.authorize(role_resource(ctx, name))
    role = find_role(ctx.conn, ctx.account_id, name)
    if role is None:
        raise no_such_role(name)
    raw = params.get("MaxItems")
    max_items = DEFAULT_MAX_ITEMS if raw is None else int(raw)
    if not 1 <= max_items <= MAX_ITEMS:
        raise ValidationError(f"MaxItems must be between 1 and {MAX_ITEMS}.")
    rs, u = t.role_sessions, t.users
    query = (
        select(rs, u.c.name.label("user_name"), u.c.path.label("user_path"))
        .select_from(rs.join(u, u.c.user_id == rs.c.user_id))
        .where(rs.c.role_id == role.role_id, rs.c.expires_at > ctx.info.now)
        .order_by(rs.c.access_key_id)
        .limit(max_items + 1)
    )
    marker = params.get("Marker")
    if marker:
        query = query.where(rs.c.access_key_id > str(marker))
    rows = ctx.conn.execute(query).all()
    out: dict[str, Any] = {
        "Sessions": [
            {
                "AccessKeyId": row.access_key_id,
                "RoleSessionName": row.session_name,
                "StartedBy": user_arn(ctx.account_id, row.user_name, row.user_path),
                "SourceIdentity": row.source_identity,
                "Chained": bool(row.chained),
                "InPortal": row.portal_session_id is not None,
                "MfaAuthenticated": row.mfa_authenticated_at is not None,
                "IssuedAt": row.created_at,
                "Expiration": row.expires_at,
            }
            for row in rows[:max_items]
        ],
        "IsTruncated": len(rows) > max_items,
    }
    if len(rows) > max_items:
        out["Marker"] = rows[max_items - 1].access_key_id
    return out


@operation(REVOKE, service=SERVICE)
def revoke_role_session(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """End one session of the role (and the sessions chained from it)."""
    name = _role_name(params)
    key_id = str(params.get("AccessKeyId") or "")
    if not key_id or len(key_id) > 128:
        raise ValidationError("AccessKeyId must name one of the role's sessions.")
    ctx.authorize(role_resource(ctx, name))
    role = find_role(ctx.conn, ctx.account_id, name)
    if role is None or not lock_row(ctx.conn, t.roles, t.roles.c.role_id, role.role_id):
        raise no_such_role(name)
    rs = t.role_sessions
    found = ctx.conn.execute(
        select(rs.c.access_key_id).where(rs.c.access_key_id == key_id, rs.c.role_id == role.role_id)
    ).first()
    if found is None:
        raise NoSuchEntity(f"The role {role.name} has no session {key_id}.")
    # One level of the chain at a time: the work is the number of sessions ended.
    ended, seen, level = [key_id], {key_id}, [key_id]
    while level:
        children = (
            ctx.conn.execute(
                select(rs.c.access_key_id).where(
                    rs.c.account_id == ctx.account_id, rs.c.issuer_access_key_id.in_(level)
                )
            )
            .scalars()
            .all()
        )
        ctx.conn.execute(rs.delete().where(rs.c.access_key_id.in_(level)))
        level = [c for c in children if c not in seen]
        seen.update(level)
        ended.extend(level)
    ctx.changed_credentials()
    return {"EndedSessions": ended}
