"""Managed policies: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy and policy tags.

Versions live in :mod:`policy_versions`, attachments in :mod:`attachments`;
importing this module registers them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_, union_all
from sqlalchemy.exc import IntegrityError

from selfiam.domain.arns import policy_arn
from selfiam.domain.errors import DeleteConflict, EntityAlreadyExists
from selfiam.domain.identifiers import new_policy_id
from selfiam.policy import PolicyKind
from selfiam.service.context import OperationContext
from selfiam.service.operations import attachments, policy_versions  # noqa: F401  (registers)
from selfiam.service.operations.policy_common import (
    AWS_NAMESPACE,
    SEPARATOR,
    attached_policy_ids,
    attachment_count,
    authorized_policy,
    boundary_arns,
    boundary_count,
    check_policy_arn,
    counted_policy,
    get_policy,
    policy_shape,
    policy_tags,
    require_customer_managed,
    split_marker,
    validate_document,
)
from selfiam.service.operations.tags import (
    authorize_create,
    list_tags_page,
    load_tags,
    put_tags,
    remove_tags,
    request_tags,
    tag_list,
)
from selfiam.service.pagination import decode_marker, finish_page, limit_of
from selfiam.service.quotas import check_account_quota
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_policy_row
from selfiam.store.owned import delete_owned

#: Customer managed policies per account (IAM quota).
MAX_POLICIES_PER_ACCOUNT = 1500
TAG_QUOTA = "TagsPerPolicy"


@operation("CreatePolicy")
def create_policy(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["PolicyName"])
    path = params.get("Path") or "/"
    tags = request_tags(params.get("Tags"), "policy")
    arn = policy_arn(ctx.account_id, name, path)
    authorize_create(ctx, arn, tags, "iam:TagPolicy")
    document = str(params["PolicyDocument"])
    validate_document(document, PolicyKind.MANAGED, require_current_version=True)

    mp = t.managed_policies
    check_account_quota(ctx, mp.c.namespace, "PoliciesPerAccount", MAX_POLICIES_PER_ACCOUNT)
    policy_id = new_policy_id()
    now = ctx.info.now
    try:
        ctx.conn.execute(
            mp.insert().values(
                policy_id=policy_id,
                arn=arn,
                account_id=ctx.account_id,
                namespace=ctx.account_id,
                name=name,
                name_lower=name.lower(),
                path=path,
                description=params.get("Description") or None,
                default_version_id="v1",
                next_version_number=2,
                is_attachable=True,
                created_at=now,
                updated_at=now,
            )
        )
    except IntegrityError:
        raise EntityAlreadyExists(
            f"A policy called {name} already exists. Duplicate names are not allowed."
        ) from None
    ctx.conn.execute(
        t.policy_versions.insert().values(
            policy_id=policy_id, version_id="v1", document=document, created_at=now
        )
    )
    put_tags(ctx.conn, "policy", policy_id, tags, TAG_QUOTA)
    row = counted_policy(ctx.conn, ctx.account_id, arn)
    out = policy_shape(row)
    out.pop("Description", None)  # AWS's CreatePolicy answer does not echo it (recorded)
    if tags:
        out["Tags"] = tag_list(load_tags(ctx.conn, "policy", policy_id))
    return {"Policy": out}


@operation("GetPolicy", writes=False)
def get_policy_op(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    check_policy_arn(arn)
    ctx.authorize(arn, resource_tags=policy_tags(ctx, arn))
    row = counted_policy(ctx.conn, ctx.account_id, arn)
    out = policy_shape(row)
    out["Tags"] = tag_list(load_tags(ctx.conn, "policy", row.policy_id))  # [] too, as AWS
    return {"Policy": out}


@operation("ListPolicies", writes=False)
def list_policies(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """A page in (name_lower, arn) order.

    Each name space listed (the account's, AWS's) gives its first rows after the marker
    along its unique index (namespace, name_lower: unique, so it is also the order by
    (name_lower, arn) there, and no sort is needed); the page is the
    first of those, and only its rows are counted. So a page costs the same whether the
    account sees 6 policies or AWS's 1,594 (DESIGN rule 8), and the database orders all
    of it (its collation, the marker's comparison: one order).
    """
    ctx.authorize("*")
    mp = t.managed_policies
    scope = params.get("Scope") or "All"
    spaces = {
        "AWS": [AWS_NAMESPACE],
        "Local": [ctx.account_id],
    }.get(scope, [ctx.account_id, AWS_NAMESPACE])
    conditions: list[Any] = []
    prefix = params.get("PathPrefix")
    if prefix:
        conditions.append(mp.c.path.startswith(prefix, autoescape=True))
    if params.get("OnlyAttached"):
        usage = params.get("PolicyUsageFilter")
        attached = mp.c.policy_id.in_(attached_policy_ids(ctx.account_id))
        bounding = mp.c.arn.in_(boundary_arns(ctx.account_id))
        if usage == "PermissionsPolicy":
            conditions.append(attached)
        elif usage == "PermissionsBoundary":
            conditions.append(bounding)
        else:
            conditions.append(or_(attached, bounding))
    marker = split_marker(decode_marker(params.get("Marker")), 2)
    if marker is not None:
        conditions.append(tuple_(mp.c.name_lower, mp.c.arn) > tuple_(*marker))
    limit = limit_of(params)
    firsts = [
        select(
            select(mp.c.policy_id)
            .where(mp.c.namespace == space, *conditions)
            .order_by(mp.c.name_lower, mp.c.arn)
            .limit(limit)
            .subquery()
        )
        for space in spaces
    ]
    candidates = firsts[0] if len(firsts) == 1 else union_all(*firsts)
    page_rows = (
        select(mp)
        .where(mp.c.policy_id.in_(candidates))
        .order_by(mp.c.name_lower, mp.c.arn)
        .limit(limit)
        .subquery()
    )
    counted = select(
        page_rows,
        attachment_count(ctx.account_id, page_rows.c.policy_id),
        boundary_count(ctx.account_id, page_rows.c.arn),
    ).order_by(page_rows.c.name_lower, page_rows.c.arn)
    rows = ctx.conn.execute(counted).all()
    page, tail = finish_page(rows, params, lambda r: f"{r.name_lower}{SEPARATOR}{r.arn}")
    return {"Policies": [policy_shape(r, detailed=False) for r in page], **tail}


@operation("DeletePolicy")
def delete_policy(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    row = authorized_policy(ctx, arn, customer_managed=True)
    lock_policy_row(ctx.conn, row.policy_id)
    counted = counted_policy(ctx.conn, ctx.account_id, arn)
    if counted.attachment_count or counted.boundary_count:
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    pv = t.policy_versions
    versions = ctx.conn.execute(
        select(func.count()).select_from(pv).where(pv.c.policy_id == row.policy_id)
    ).scalar_one()
    if versions > 1:
        raise DeleteConflict(
            "This policy has more than one version. Before you delete a policy, you must "
            "delete the policy's versions. The default version is deleted with the policy."
        )
    ctx.conn.execute(delete(pv).where(pv.c.policy_id == row.policy_id))
    ctx.conn.execute(
        delete(t.managed_policies).where(t.managed_policies.c.policy_id == row.policy_id)
    )
    delete_owned(ctx.conn, "policy", row.policy_id)
    ctx.changed_authorization(policy_arn=arn)
    return {}


# -- tags -------------------------------------------------------------------------------


@operation("TagPolicy", light=True)
def tag_policy(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    check_policy_arn(arn)
    tags = request_tags(params.get("Tags"), "policy")
    ctx.authorize(arn, request_tags=tags, resource_tags=policy_tags(ctx, arn))
    row = get_policy(ctx.conn, ctx.account_id, arn)
    require_customer_managed(ctx, row)
    lock_policy_row(ctx.conn, row.policy_id)
    put_tags(ctx.conn, "policy", row.policy_id, tags, TAG_QUOTA)
    return {}


@operation("UntagPolicy", light=True)
def untag_policy(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    check_policy_arn(arn)
    keys = [str(k) for k in params.get("TagKeys") or ()]
    ctx.authorize(arn, resource_tags=policy_tags(ctx, arn), extra_context={"aws:TagKeys": keys})
    row = get_policy(ctx.conn, ctx.account_id, arn)
    require_customer_managed(ctx, row)
    remove_tags(ctx.conn, "policy", row.policy_id, keys)
    return {}


@operation("ListPolicyTags", writes=False)
def list_policy_tags(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    row = authorized_policy(ctx, arn)
    return list_tags_page(ctx.conn, "policy", row.policy_id, params)
