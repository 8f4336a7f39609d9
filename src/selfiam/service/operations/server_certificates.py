"""Server certificates: an account's TLS certificates with their private keys, as IAM keeps
them for load balancers and CloudFront.

AWS's rules (IAM API reference, UploadServerCertificate and friends; IAM quotas):

* names are unique case-insensitively in the account (``EntityAlreadyExists``), 20
  certificates per account (``LimitExceeded``, under the account's row lock);
* the upload is checked by :mod:`selfiam.domain.server_certificates` (the body, the
  key matching the body's public key, the chain) after authorization;
* the private key is sealed under the certificate's id (``service/rekey.py``
  re-seals it) and never answered: GetServerCertificate returns the body and chain;
* the ARN is ``arn:aws:iam::<account>:server-certificate<path><name>``; the id is
  ``ASCA`` + 17 characters; ``Expiration`` is the certificate's "Not After";
* tags follow the rules of every taggable entity (``operations/tags.py``); creating
  with tags also asks for iam:TagServerCertificate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain.arns import server_certificate_arn
from selfiam.domain.errors import AwsError, EntityAlreadyExists, NoSuchEntity
from selfiam.domain.identifiers import new_server_certificate_id
from selfiam.domain.server_certificates import parse_server_certificate
from selfiam.service.context import OperationContext
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.account import SERVER_CERTIFICATES_QUOTA
from selfiam.service.operations.entities import (
    EntityKind,
    authorize_entity,
    list_entity_tags,
    tag_entity,
    untag_entity,
)
from selfiam.service.operations.users import path_prefix_filter
from selfiam.service.pagination import page_after
from selfiam.service.quotas import check_account_quota
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.owned import delete_owned

QUOTA_NAME = "ServerCertificatesPerAccount"
TAGS_QUOTA = "TagsPerServerCertificate"
TAG_TYPE = "server-cert"

_sc = t.server_certificates


def no_such_certificate(name: str) -> AwsError:
    return NoSuchEntity(f"The Server Certificate with name {name} cannot be found.")


def already_exists(name: str) -> AwsError:
    return EntityAlreadyExists(f"The Server Certificate with name {name} already exists.")


def _find(conn: Connection, account_id: str, name: str) -> Row[Any] | None:
    return conn.execute(
        select(_sc).where(_sc.c.account_id == account_id, _sc.c.name_lower == name.lower())
    ).first()


SERVER_CERTIFICATE = EntityKind(
    _find, server_certificate_arn, no_such_certificate, _sc, "server_certificate_id", TAG_TYPE
)


def _metadata(row: Row[Any], account_id: str) -> dict[str, Any]:
    return {
        "Path": row.path,
        "ServerCertificateName": row.name,
        "ServerCertificateId": row.server_certificate_id,
        "Arn": server_certificate_arn(account_id, row.name, row.path),
        "UploadDate": row.uploaded_at,
        "Expiration": row.expires_at,
    }


@operation("UploadServerCertificate")
def upload_server_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["ServerCertificateName"])
    path = str(params.get("Path") or "/")
    tags = tagging.request_tags(params.get("Tags"), TAG_TYPE)
    arn = server_certificate_arn(ctx.account_id, name, path)
    tagging.authorize_create(ctx, arn, tags, "iam:TagServerCertificate")
    body = str(params["CertificateBody"])
    private_key = str(params["PrivateKey"])
    chain = params.get("CertificateChain")
    parsed = parse_server_certificate(
        body, private_key, str(chain) if chain is not None else None, ctx.info.now
    )
    check_account_quota(ctx, _sc.c.account_id, QUOTA_NAME, SERVER_CERTIFICATES_QUOTA)
    certificate_id = new_server_certificate_id()
    try:
        ctx.conn.execute(
            _sc.insert().values(
                server_certificate_id=certificate_id,
                account_id=ctx.account_id,
                name=name,
                name_lower=name.lower(),
                path=path,
                body=body,
                chain=str(chain) if chain is not None else None,
                private_key_ciphertext=ctx.runtime.box.seal(
                    private_key.encode(), certificate_id.encode()
                ),
                uploaded_at=ctx.info.now,
                expires_at=parsed.not_after,
            )
        )
    except IntegrityError:
        raise already_exists(name) from None
    tagging.put_tags(ctx.conn, TAG_TYPE, certificate_id, tags, TAGS_QUOTA)
    row = ctx.conn.execute(select(_sc).where(_sc.c.server_certificate_id == certificate_id)).one()
    out: dict[str, Any] = {"ServerCertificateMetadata": _metadata(row, ctx.account_id)}
    if tags:
        out["Tags"] = tagging.tag_list(tags)
    return out


@operation("GetServerCertificate", writes=False)
def get_server_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata, the body and the chain; never the private key."""
    row, tags = authorize_entity(ctx, SERVER_CERTIFICATE, str(params["ServerCertificateName"]))
    certificate: dict[str, Any] = {
        "ServerCertificateMetadata": _metadata(row, ctx.account_id),
        "CertificateBody": row.body,
        "Tags": tagging.tag_list(tags),
    }
    if row.chain is not None:
        certificate["CertificateChain"] = row.chain
    return {"ServerCertificate": certificate}


@operation("ListServerCertificates", writes=False)
def list_server_certificates(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    prefix = params.get("PathPrefix")
    ctx.authorize(f"arn:aws:iam::{ctx.account_id}:server-certificate{prefix or '/'}")
    query = select(
        _sc.c.server_certificate_id,
        _sc.c.name,
        _sc.c.name_lower,
        _sc.c.path,
        _sc.c.uploaded_at,
        _sc.c.expires_at,
    ).where(_sc.c.account_id == ctx.account_id)
    where = path_prefix_filter(_sc.c.path, prefix)
    if where is not None:
        query = query.where(where)
    page, more = page_after(ctx.conn, query, _sc.c.name_lower, params)
    return {"ServerCertificateMetadataList": [_metadata(r, ctx.account_id) for r in page], **more}


@operation("UpdateServerCertificate", light=True)
def update_server_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Rename and/or move a certificate; AWS asks for permission on the old and the new
    ARN."""
    row, _ = authorize_entity(ctx, SERVER_CERTIFICATE, str(params["ServerCertificateName"]))
    new_name = str(params.get("NewServerCertificateName") or row.name)
    new_path = str(params.get("NewPath") or row.path)
    if new_name == row.name and new_path == row.path:
        return {}
    ctx.authorize(server_certificate_arn(ctx.account_id, new_name, new_path))
    try:
        ctx.conn.execute(
            _sc.update()
            .where(_sc.c.server_certificate_id == row.server_certificate_id)
            .values(name=new_name, name_lower=new_name.lower(), path=new_path)
        )
    except IntegrityError:
        raise already_exists(new_name) from None
    return {}


@operation("DeleteServerCertificate", light=True)
def delete_server_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row, _ = authorize_entity(ctx, SERVER_CERTIFICATE, str(params["ServerCertificateName"]))
    delete_owned(ctx.conn, TAG_TYPE, row.server_certificate_id)
    ctx.conn.execute(_sc.delete().where(_sc.c.server_certificate_id == row.server_certificate_id))
    return {}


@operation("TagServerCertificate", light=True)
def tag_server_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    tags = tagging.request_tags(params["Tags"], TAG_TYPE)
    tag_entity(ctx, SERVER_CERTIFICATE, str(params["ServerCertificateName"]), tags, TAGS_QUOTA)
    return {}


@operation("UntagServerCertificate", light=True)
def untag_server_certificate(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    keys = [str(k) for k in params["TagKeys"]]
    untag_entity(ctx, SERVER_CERTIFICATE, str(params["ServerCertificateName"]), keys)
    return {}


@operation("ListServerCertificateTags", writes=False)
def list_server_certificate_tags(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    return list_entity_tags(ctx, SERVER_CERTIFICATE, str(params["ServerCertificateName"]), params)
