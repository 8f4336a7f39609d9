"""IAM roles: create, read, list, update, delete, tag, and their permissions boundary.

A role's inline policies and managed-policy attachments are served by
``inline_policies`` and ``attachments`` (the same code as users' and groups').
Deleting a role ends its sessions: ``role_sessions`` rows cascade with the role,
and the auth version bump makes every process reload the credentials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, exists, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain.arns import role_arn
from selfiam.domain.errors import (
    AwsError,
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    MalformedPolicyDocument,
)
from selfiam.domain.identifiers import new_role_id
from selfiam.policy import POLICY_SIZE_LIMITS, Policy, PolicyKind
from selfiam.service.context import OperationContext
from selfiam.service.lookup import find_role, no_such_role
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.account import ROLES_QUOTA
from selfiam.service.operations.entities import (
    ROLE,
    authorize_entity,
    list_entity_tags,
    tag_entity,
    untag_entity,
)
from selfiam.service.operations.oidc_providers import is_oidc_provider_arn, provider_by_arn
from selfiam.service.operations.policy_common import quote_document, validate_document
from selfiam.service.operations.users import (
    boundary_context,
    check_boundary_policy,
    path_prefix_filter,
)
from selfiam.service.pagination import page_after
from selfiam.service.protected_roles import refuse_if_service_linked
from selfiam.service.quotas import insert_within_account_quota
from selfiam.service.registry import operation
from selfiam.service.trust_principals import principal_ids, shown_trust, store_trust
from selfiam.store import tables as t
from selfiam.store.locks import lock_row
from selfiam.store.owned import delete_owned

TAGS_QUOTA = "TagsPerRole"
DEFAULT_MAX_SESSION_DURATION = 3600
#: AWS's wording when a trust policy is over its quota (AssumeRolePolicySizeQuota).
TRUST_SIZE_MESSAGE = "Cannot exceed quota for ACLSizePerRole: {limit}"


def role_exists_error(name: str) -> AwsError:
    return EntityAlreadyExists(f"Role with name {name} already exists.")


def listed_role_shape(row: Any, account_id: str, trust: str) -> dict[str, Any]:
    """A role as ListRoles shows it (``trust``: its trust policy as shown, see
    ``trust_principals.shown_trust``): AWS leaves out PermissionsBoundary, Tags and
    RoleLastUsed there."""
    out: dict[str, Any] = {
        "Path": row.path,
        "RoleName": row.name,
        "RoleId": row.role_id,
        "Arn": role_arn(account_id, row.name, row.path),
        "CreateDate": row.created_at,
        "AssumeRolePolicyDocument": quote_document(trust),
        "MaxSessionDuration": row.max_session_duration,
    }
    if row.description is not None:
        out["Description"] = row.description
    return out


def role_shape(
    conn: Connection, row: Any, account_id: str, tags: Mapping[str, str]
) -> dict[str, Any]:
    """A role as GetRole shows it: with its boundary, tags and last use."""
    out = listed_role_shape(row, account_id, shown_trust(conn, [row])[row.role_id])
    if row.permissions_boundary_arn:
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": row.permissions_boundary_arn,
        }
    if tags:
        out["Tags"] = tagging.tag_list(tags)
    last_used: dict[str, Any] = {}
    if row.last_used_at is not None:
        last_used = {"LastUsedDate": row.last_used_at, "Region": row.last_used_region}
    out["RoleLastUsed"] = last_used
    return out


def authorize_role_with_tags(
    ctx: OperationContext,
    name: str,
    *,
    action: str | None = None,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> tuple[Row[Any], dict[str, str]]:
    """Authorize an action on an existing role (its real ARN, its tags as
    aws:ResourceTag), then return its row and tags; an unknown name is authorized
    against the path-less ARN and then refused with NoSuchEntity, as AWS orders it."""
    return authorize_entity(
        ctx, ROLE, name, action=action, request_tags=request_tags, extra_context=extra_context
    )


def authorize_role(
    ctx: OperationContext,
    name: str,
    *,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> Row[Any]:
    row, _ = authorize_role_with_tags(
        ctx, name, request_tags=request_tags, extra_context=extra_context
    )
    return row


def validate_trust_policy(
    conn: Connection, account_id: str, document: str
) -> tuple[Policy, dict[str, str]]:
    """Parse ``document`` as a role trust policy, as IAM does on CreateRole and
    UpdateAssumeRolePolicy (Principal required; a user or role of this account it names
    must exist), and return it with the unique ids those users and roles have."""
    try:
        policy = validate_document(document, PolicyKind.TRUST)
    except LimitExceeded as err:
        raise LimitExceeded(
            TRUST_SIZE_MESSAGE.format(limit=POLICY_SIZE_LIMITS[PolicyKind.TRUST])
        ) from err
    for stmt in policy.statements:
        for value in stmt.principal.federated if stmt.principal is not None else ():
            if is_oidc_provider_arn(value) and provider_by_arn(conn, account_id, value) is None:
                raise MalformedPolicyDocument(f'Invalid principal in policy: "Federated":"{value}"')
    return policy, principal_ids(conn, account_id, policy)


def insert_role(
    ctx: OperationContext,
    *,
    name: str,
    path: str,
    document: str,
    description: str | None,
    max_session_duration: int,
    boundary: str | None,
) -> str:
    """Insert a new role (within the account's quota, checked under its lock) and return
    its id; a name taken case-insensitively is ``role_exists_error``."""
    role_id = new_role_id()
    row = {
        "role_id": role_id,
        "account_id": ctx.account_id,
        "name": name,
        "name_lower": name.lower(),
        "path": path,
        "description": description,
        "assume_role_policy_document": document,
        "max_session_duration": max_session_duration,
        "permissions_boundary_arn": boundary,
        "created_at": ctx.info.now,
    }
    try:
        insert_within_account_quota(ctx, t.roles, row, "RolesPerAccount", ROLES_QUOTA)
    except IntegrityError:
        raise role_exists_error(name) from None
    return role_id


@operation("CreateRole")
def create_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["RoleName"])
    path = str(params.get("Path") or "/")
    document = str(params["AssumeRolePolicyDocument"])
    boundary = params.get("PermissionsBoundary")
    tags = tagging.request_tags(params.get("Tags"))
    arn = role_arn(ctx.account_id, name, path)
    tagging.authorize_create(
        ctx, arn, tags, "iam:TagRole", extra_context=boundary_context(boundary)
    )
    _, trusted_ids = validate_trust_policy(ctx.conn, ctx.account_id, document)
    if boundary:
        check_boundary_policy(ctx.conn, ctx.account_id, boundary)
    role_id = insert_role(
        ctx,
        name=name,
        path=path,
        document=document,
        description=params.get("Description"),
        max_session_duration=int(params.get("MaxSessionDuration") or DEFAULT_MAX_SESSION_DURATION),
        boundary=boundary,
    )
    store_trust(ctx.conn, role_id, document, trusted_ids)
    tagging.put_tags(ctx.conn, "role", role_id, tags, TAGS_QUOTA)
    ctx.changed_authorization(role_id=role_id)
    row = ctx.conn.execute(select(t.roles).where(t.roles.c.role_id == role_id)).one()
    out = role_shape(ctx.conn, row, ctx.account_id, tags)
    del out["RoleLastUsed"]  # CreateRole answers without it, as AWS
    return {"Role": out}


@operation("GetRole", writes=False)
def get_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row, tags = authorize_role_with_tags(ctx, str(params["RoleName"]))
    return {"Role": role_shape(ctx.conn, row, ctx.account_id, tags)}


@operation("ListRoles", writes=False)
def list_roles(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    prefix = params.get("PathPrefix")
    ctx.authorize(f"arn:aws:iam::{ctx.account_id}:role{prefix or '/'}")
    r = t.roles
    query = select(r).where(r.c.account_id == ctx.account_id)
    where = path_prefix_filter(r.c.path, prefix)
    if where is not None:
        query = query.where(where)
    page, more = page_after(ctx.conn, query, r.c.name_lower, params)
    trust = shown_trust(ctx.conn, page)
    roles = [listed_role_shape(row, ctx.account_id, trust[row.role_id]) for row in page]
    return {"Roles": roles, **more}


def _update(ctx: OperationContext, row: Any, **values: Any) -> None:
    ctx.conn.execute(t.roles.update().where(t.roles.c.role_id == row.role_id).values(**values))


@operation("UpdateRole", light=True)
def update_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Description and/or MaxSessionDuration; the sessions already issued keep their expiry."""
    row = authorize_role(ctx, str(params["RoleName"]))
    values: dict[str, Any] = {}
    if params.get("Description") is not None:
        values["description"] = str(params["Description"])
    if params.get("MaxSessionDuration") is not None:
        values["max_session_duration"] = int(params["MaxSessionDuration"])
    if values:
        _update(ctx, row, **values)
    return {}


@operation("UpdateRoleDescription", light=True)
def update_role_description(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row, tags = authorize_role_with_tags(ctx, str(params["RoleName"]))
    _update(ctx, row, description=str(params["Description"]))
    updated = ctx.conn.execute(select(t.roles).where(t.roles.c.role_id == row.role_id)).one()
    return {"Role": role_shape(ctx.conn, updated, ctx.account_id, tags)}


@operation("UpdateAssumeRolePolicy")
def update_assume_role_policy(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the trust policy. Sessions already issued stay valid, as in AWS (the trust
    policy is checked when a role is assumed)."""
    row = authorize_role(ctx, str(params["RoleName"]))
    refuse_if_service_linked(ctx.conn, row)
    document = str(params["PolicyDocument"])
    _, trusted_ids = validate_trust_policy(ctx.conn, ctx.account_id, document)
    _update(ctx, row, assume_role_policy_document=document)
    store_trust(ctx.conn, row.role_id, document, trusted_ids)
    return {}


def _has(conn: Connection, where: Any) -> bool:
    return bool(conn.execute(select(exists().where(where))).scalar())


def role_delete_conflict(conn: Connection, role_id: str) -> str | None:
    """What still keeps a role from being deleted: an instance profile holding it (the
    first thing AWS reports), inline policies, attached policies. A permissions boundary
    does not: AWS does not list it."""
    ip = t.inline_policies
    checks: list[tuple[Any, str]] = [
        (
            t.instance_profile_roles.c.role_id == role_id,
            "must remove roles from instance profile first.",
        ),
        ((ip.c.owner_type == "role") & (ip.c.owner_id == role_id), "must delete policies first."),
        (t.role_policy_attachments.c.role_id == role_id, "must detach all policies first."),
    ]
    for where, message in checks:
        if _has(conn, where):
            return message
    return None


@operation("DeleteRole")
def delete_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["RoleName"])
    row = authorize_role(ctx, name)
    refuse_if_service_linked(ctx.conn, row)
    if not lock_row(ctx.conn, t.roles, t.roles.c.role_id, row.role_id):
        raise no_such_role(name)
    conflict = role_delete_conflict(ctx.conn, row.role_id)
    if conflict is not None:
        raise DeleteConflict(f"Cannot delete entity, {conflict}")
    delete_owned(ctx.conn, "role", row.role_id)
    ctx.conn.execute(t.roles.delete().where(t.roles.c.role_id == row.role_id))
    ctx.changed_authorization(
        role_id=row.role_id
    )  # its sessions are gone (cascade): reload credentials
    return {}


@operation("PutRolePermissionsBoundary", light=True)
def put_role_permissions_boundary(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    boundary = str(params["PermissionsBoundary"])
    row = authorize_role(ctx, str(params["RoleName"]), extra_context=boundary_context(boundary))
    refuse_if_service_linked(ctx.conn, row)
    check_boundary_policy(ctx.conn, ctx.account_id, boundary)
    _update(ctx, row, permissions_boundary_arn=boundary)
    ctx.changed_authorization(role_id=row.role_id)
    return {}


@operation("DeleteRolePermissionsBoundary", light=True)
def delete_role_permissions_boundary(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    name = str(params["RoleName"])
    current = find_role(ctx.conn, ctx.account_id, name)
    boundary = current.permissions_boundary_arn if current is not None else None
    row = authorize_role(ctx, name, extra_context=boundary_context(boundary))
    refuse_if_service_linked(ctx.conn, row)
    _update(ctx, row, permissions_boundary_arn=None)
    ctx.changed_authorization(role_id=row.role_id)
    return {}


@operation("TagRole", light=True)
def tag_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    tags = tagging.request_tags(params["Tags"])
    entity_id = tag_entity(ctx, ROLE, str(params["RoleName"]), tags, TAGS_QUOTA)
    ctx.changed_authorization(role_id=entity_id)  # a role's tags are its sessions' principal tags
    return {}


@operation("UntagRole", light=True)
def untag_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    entity_id = untag_entity(
        ctx, ROLE, str(params["RoleName"]), [str(k) for k in params["TagKeys"]]
    )
    ctx.changed_authorization(role_id=entity_id)
    return {}


@operation("ListRoleTags", writes=False)
def list_role_tags(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    return list_entity_tags(ctx, ROLE, str(params["RoleName"]), params)
