"""Managed policy versions: Create, Get, List, Delete and SetDefault.

A policy has at most five versions; version ids count up and are never reused
(``managed_policies.next_version_number``). The five-version check is a
count-then-insert, so the policy row is locked first (DESIGN rule 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.engine import Connection

from selfiam.domain.errors import AwsError, DeleteConflict, LimitExceeded, NoSuchEntity
from selfiam.policy import PolicyKind
from selfiam.service.context import OperationContext
from selfiam.service.operations.policy_common import (
    authorized_policy,
    quote_document,
    validate_document,
    version_number,
)
from selfiam.service.pagination import decode_marker, finish_page, limit_of
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_policy_row

MAX_VERSIONS = 5


def _no_version(arn: str, version_id: str) -> AwsError:
    return NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")


def _policy_of_version(
    ctx: OperationContext, arn: str, version_id: str, *, customer_managed: bool = False
) -> Row[Any]:
    """The policy a version operation acts on; a policy that does not exist is answered
    like a missing version (AWS's recorded GetPolicyVersion and SetDefaultPolicyVersion)."""
    try:
        return authorized_policy(ctx, arn, customer_managed=customer_managed)
    except NoSuchEntity:
        raise _no_version(arn, version_id) from None


def _version(conn: Connection, policy_id: str, version_id: str) -> Row[Any] | None:
    pv = t.policy_versions
    return conn.execute(
        select(pv).where(pv.c.policy_id == policy_id, pv.c.version_id == version_id)
    ).first()


def _versions_newest_first(conn: Connection, policy_id: str) -> list[Row[Any]]:
    pv = t.policy_versions
    rows = conn.execute(select(pv).where(pv.c.policy_id == policy_id)).all()
    return sorted(rows, key=lambda r: version_number(r.version_id), reverse=True)


def version_shape(row: Row[Any], default_version_id: str, *, document: bool) -> dict[str, Any]:
    """The model's PolicyVersion. AWS returns the document only from GetPolicyVersion and
    GetAccountAuthorizationDetails, URL-encoded."""
    out: dict[str, Any] = {
        "VersionId": row.version_id,
        "IsDefaultVersion": row.version_id == default_version_id,
        "CreateDate": row.created_at,
    }
    if document:
        out["Document"] = quote_document(row.document)
    return out


def _touch(conn: Connection, policy_id: str) -> None:
    """UpdateDate is the creation time of the newest remaining version (AWS)."""
    pv, mp = t.policy_versions, t.managed_policies
    newest = conn.execute(
        select(func.max(pv.c.created_at)).where(pv.c.policy_id == policy_id)
    ).scalar_one()
    conn.execute(update(mp).where(mp.c.policy_id == policy_id).values(updated_at=newest))


@operation("CreatePolicyVersion")
def create_policy_version(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    policy = authorized_policy(ctx, arn, customer_managed=True)
    document = str(params["PolicyDocument"])
    validate_document(document, PolicyKind.MANAGED, require_current_version=True)

    lock_policy_row(ctx.conn, policy.policy_id)
    mp, pv = t.managed_policies, t.policy_versions
    policy = ctx.conn.execute(select(mp).where(mp.c.policy_id == policy.policy_id)).one()
    count = ctx.conn.execute(
        select(func.count()).select_from(pv).where(pv.c.policy_id == policy.policy_id)
    ).scalar_one()
    if count >= MAX_VERSIONS:
        raise LimitExceeded(
            f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a "
            "new version, you must delete an existing version."
        )
    version_id = f"v{policy.next_version_number}"
    now = ctx.info.now
    ctx.conn.execute(
        pv.insert().values(
            policy_id=policy.policy_id, version_id=version_id, document=document, created_at=now
        )
    )
    values: dict[str, Any] = {
        "next_version_number": policy.next_version_number + 1,
        "updated_at": now,
    }
    default = policy.default_version_id
    if params.get("SetAsDefault"):
        values["default_version_id"] = default = version_id
        ctx.changed_authorization(policy_arn=arn)
    ctx.conn.execute(update(mp).where(mp.c.policy_id == policy.policy_id).values(**values))
    row = _version(ctx.conn, policy.policy_id, version_id)
    assert row is not None
    return {"PolicyVersion": version_shape(row, default, document=False)}


@operation("GetPolicyVersion", writes=False)
def get_policy_version(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    version_id = str(params["VersionId"])
    policy = _policy_of_version(ctx, arn, version_id)
    row = _version(ctx.conn, policy.policy_id, version_id)
    if row is None:
        raise _no_version(arn, version_id)
    return {"PolicyVersion": version_shape(row, policy.default_version_id, document=True)}


@operation("ListPolicyVersions", writes=False)
def list_policy_versions(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    policy = authorized_policy(ctx, arn)
    rows = _versions_newest_first(ctx.conn, policy.policy_id)
    marker = decode_marker(params.get("Marker"))
    if marker is not None:
        after = version_number(marker)
        rows = [r for r in rows if version_number(r.version_id) < after]
    page, tail = finish_page(rows[: limit_of(params)], params, lambda r: r.version_id)
    versions = [version_shape(r, policy.default_version_id, document=False) for r in page]
    return {"Versions": versions, **tail}


@operation("DeletePolicyVersion")
def delete_policy_version(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    version_id = str(params["VersionId"])
    policy = authorized_policy(ctx, arn, customer_managed=True)
    lock_policy_row(ctx.conn, policy.policy_id)
    mp = t.managed_policies
    default = ctx.conn.execute(
        select(mp.c.default_version_id).where(mp.c.policy_id == policy.policy_id)
    ).scalar_one()
    if _version(ctx.conn, policy.policy_id, version_id) is None:
        raise _no_version(arn, version_id)
    if version_id == default:
        raise DeleteConflict("Cannot delete the default version of a policy.")
    pv = t.policy_versions
    ctx.conn.execute(
        delete(pv).where(pv.c.policy_id == policy.policy_id, pv.c.version_id == version_id)
    )
    _touch(ctx.conn, policy.policy_id)
    ctx.changed_authorization(policy_arn=arn)
    return {}


@operation("SetDefaultPolicyVersion")
def set_default_policy_version(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["PolicyArn"])
    version_id = str(params["VersionId"])
    policy = _policy_of_version(ctx, arn, version_id, customer_managed=True)
    lock_policy_row(ctx.conn, policy.policy_id)
    if _version(ctx.conn, policy.policy_id, version_id) is None:
        raise _no_version(arn, version_id)
    mp = t.managed_policies
    ctx.conn.execute(
        update(mp).where(mp.c.policy_id == policy.policy_id).values(default_version_id=version_id)
    )
    ctx.changed_authorization(policy_arn=arn)
    return {}
