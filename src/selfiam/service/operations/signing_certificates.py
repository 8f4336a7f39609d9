"""X.509 signing certificates: at most two per user, each certificate once per account.

Every operation is authorized against the owning user's ARN; an omitted
UserName means the caller's own user, as AWS. A certificate id that exists
but belongs to another user than the one named is not found, in AWS's words,
so nobody learns about other users' certificates by guessing ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import IntegrityError

from selfiam.domain.certificates import parse_signing_certificate
from selfiam.domain.errors import (
    AwsError,
    DuplicateCertificate,
    NoSuchEntity,
)
from selfiam.domain.identifiers import new_signing_certificate_id
from selfiam.service.context import OperationContext
from selfiam.service.credential_status import settable_status
from selfiam.service.lookup import target_user_name
from selfiam.service.operations.account import SIGNING_CERTIFICATES_PER_USER
from selfiam.service.operations.users import (
    authorize_user,
    lock_user_within_quota,
    users_credential,
)
from selfiam.service.pagination import page_after
from selfiam.service.registry import operation
from selfiam.store import tables as t


def no_such_certificate(certificate_id: str) -> AwsError:
    return NoSuchEntity(f"The Certificate with id {certificate_id} cannot be found.")


def _shape(row: Row[Any], user_name: str) -> dict[str, Any]:
    return {
        "UserName": user_name,
        "CertificateId": row.certificate_id,
        "CertificateBody": row.body,
        "Status": row.status,
        "UploadDate": row.uploaded_at,
    }


@operation("UploadSigningCertificate")
def upload_signing_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Upload a certificate; the user's row lock makes the two-certificate limit hold
    under concurrency, and the (account, fingerprint) constraint refuses a duplicate."""
    name = target_user_name(ctx, params)
    user = authorize_user(ctx, name)
    body = str(params["CertificateBody"])
    parsed = parse_signing_certificate(body, ctx.info.now)
    sc = t.signing_certificates
    lock_user_within_quota(
        ctx, user, name, sc.c.user_id, "CertificatesPerUser", SIGNING_CERTIFICATES_PER_USER
    )
    certificate_id = new_signing_certificate_id()
    try:
        ctx.conn.execute(
            sc.insert().values(
                certificate_id=certificate_id,
                account_id=ctx.account_id,
                user_id=user.user_id,
                body=body,
                fingerprint_sha256=parsed.fingerprint_sha256,
                status="Active",
                uploaded_at=ctx.info.now,
            )
        )
    except IntegrityError:
        raise DuplicateCertificate(
            "The same certificate is already associated with a user in this account."
        ) from None
    ctx.changed_credentials(user_id=user.user_id)
    row = ctx.conn.execute(select(sc).where(sc.c.certificate_id == certificate_id)).one()
    return {"Certificate": _shape(row, user.name)}


@operation("ListSigningCertificates", writes=False)
def list_signing_certificates(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    user = authorize_user(ctx, target_user_name(ctx, params))
    sc = t.signing_certificates
    query = select(sc).where(sc.c.user_id == user.user_id)
    page, more = page_after(ctx.conn, query, sc.c.certificate_id, params)
    return {"Certificates": [_shape(r, user.name) for r in page], **more}


def _users_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> tuple[str, str]:
    """(certificate id, its user's id) of the user's own certificate the request names."""
    sc = t.signing_certificates
    row, user = users_credential(
        ctx, params, sc.c.certificate_id, "CertificateId", no_such_certificate
    )
    return str(row.certificate_id), str(user.user_id)


@operation("UpdateSigningCertificate", light=True)
def update_signing_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    status = settable_status(str(params["Status"]))
    certificate_id, user_id = _users_certificate(ctx, params)
    sc = t.signing_certificates
    ctx.conn.execute(sc.update().where(sc.c.certificate_id == certificate_id).values(status=status))
    ctx.changed_credentials(user_id=user_id)
    return {}


@operation("DeleteSigningCertificate", light=True)
def delete_signing_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    certificate_id, user_id = _users_certificate(ctx, params)
    sc = t.signing_certificates
    ctx.conn.execute(sc.delete().where(sc.c.certificate_id == certificate_id))
    ctx.changed_credentials(user_id=user_id)
    return {}
