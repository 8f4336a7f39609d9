"""IAM SAML providers: the IdPs an account trusts for AssumeRoleWithSAML.

A provider is named by ``arn:aws:iam::ACCOUNT:saml-provider/NAME``; its metadata
document is validated on create and update (``service/saml/metadata.py``), and
its ValidUntil is the document's ``validUntil``, or a hundred years after it was
uploaded when the document gives none (what AWS shows). Deleting a provider ends
the role sessions its responses started (``role_sessions.saml_provider_id``
cascades), as deleting an OpenID Connect provider does.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain.arns import ArnError, iam_arn, parse_arn
from selfiam.domain.errors import AwsError, EntityAlreadyExists, InvalidInput, NoSuchEntity
from selfiam.service.context import OperationContext
from selfiam.service.operations import tags as tagging
from selfiam.service.quotas import check_account_quota
from selfiam.service.registry import operation
from selfiam.service.saml.metadata import document_digest, parse_metadata
from selfiam.store import tables as t
from selfiam.store.locks import lock_row
from selfiam.store.owned import delete_owned

TAG_TYPE = "saml-provider"
TAGS_QUOTA = "TagsPerSAMLProvider"
PROVIDERS_QUOTA = 100  # AWS: SAML providers per account
DEFAULT_VALIDITY = timedelta(days=365 * 100)

_sp = t.saml_providers


def saml_provider_arn(account_id: str, name: str) -> str:
    return iam_arn(account_id, "saml-provider", name)


def _name_in(account_id: str, arn: str) -> str | None:
    """The provider name ``arn`` gives in ``account_id``, or None if it names another
    account's; InvalidInput if it is no SAML provider's ARN."""
    try:
        parsed = parse_arn(arn)
    except ArnError:
        raise InvalidInput(f"ARN {arn} is not valid.") from None
    kind, _, name = parsed.resource.partition("/")
    if parsed.service != "iam" or kind != "saml-provider" or not name or "/" in name:
        raise InvalidInput(f"ARN {arn} is not valid.")
    return name if parsed.account == account_id else None


_BRIEF = [c for c in _sp.c if c.name != "metadata_document"]


def find_provider(
    conn: Connection, account_id: str, arn: str, *, with_document: bool = True
) -> Row[Any] | None:
    """The provider ``arn`` names in ``account_id`` (exact name), or None; without its
    (possibly large) document unless ``with_document``."""
    name = _name_in(account_id, arn)
    if name is None:
        return None
    columns = [_sp] if with_document else _BRIEF
    row = conn.execute(
        select(*columns).where(_sp.c.account_id == account_id, _sp.c.name_lower == name.lower())
    ).first()
    return row if row is not None and row.name == name else None


def _not_found(arn: str) -> AwsError:
    return NoSuchEntity(f"Manifest not found for arn {arn}")


def _authorized_provider(
    ctx: OperationContext, arn: str, **authorize: Any
) -> tuple[Row[Any], dict[str, str]]:
    """Authorize on ``arn`` (with the provider's tags), then its row; NoSuchEntity after."""
    row = find_provider(ctx.conn, ctx.account_id, arn)
    if row is None:
        ctx.authorize(arn, **authorize)
        raise _not_found(arn)
    tags = tagging.load_tags(ctx.conn, TAG_TYPE, row.provider_id)
    ctx.authorize(saml_provider_arn(ctx.account_id, row.name), resource_tags=tags, **authorize)
    return row, tags


def _valid_until(document_until: datetime | None, now: datetime) -> datetime:
    return document_until if document_until is not None else now + DEFAULT_VALIDITY


@operation("CreateSAMLProvider")
def create_saml_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["Name"])
    document = str(params["SAMLMetadataDocument"])
    tags = tagging.request_tags(params.get("Tags"))
    arn = saml_provider_arn(ctx.account_id, name)
    tagging.authorize_create(ctx, arn, tags, "iam:TagSAMLProvider")
    idp = parse_metadata(document)
    check_account_quota(ctx, _sp.c.account_id, "SAMLProvidersPerAccount", PROVIDERS_QUOTA)
    provider_id = uuid.uuid4().hex
    try:
        ctx.conn.execute(
            _sp.insert().values(
                provider_id=provider_id,
                account_id=ctx.account_id,
                name=name,
                name_lower=name.lower(),
                metadata_document=document,
                metadata_sha256=document_digest(document),
                entity_id=idp.entity_id[:1024],
                created_at=ctx.info.now,
                valid_until=_valid_until(idp.valid_until, ctx.info.now),
            )
        )
    except IntegrityError:
        raise EntityAlreadyExists(f"SAMLProvider {name} already exists.") from None
    tagging.put_tags(ctx.conn, TAG_TYPE, provider_id, tags, TAGS_QUOTA)
    ctx.changed_authorization()
    out: dict[str, Any] = {"SAMLProviderArn": arn}
    if tags:
        out["Tags"] = tagging.tag_list(tags)
    return out


@operation("GetSAMLProvider", writes=False)
def get_saml_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row, tags = _authorized_provider(ctx, str(params["SAMLProviderArn"]))
    out: dict[str, Any] = {
        "SAMLProviderUUID": str(uuid.UUID(row.provider_id)),
        "SAMLMetadataDocument": row.metadata_document,
        "CreateDate": row.created_at,
        "ValidUntil": row.valid_until,
    }
    if tags:
        out["Tags"] = tagging.tag_list(tags)
    return out


@operation("ListSAMLProviders", writes=False)
def list_saml_providers(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    rows = ctx.conn.execute(
        select(_sp.c.name, _sp.c.created_at, _sp.c.valid_until)
        .where(_sp.c.account_id == ctx.account_id)
        .order_by(_sp.c.name_lower)
    ).all()  # at most PROVIDERS_QUOTA rows
    return {
        "SAMLProviderList": [
            {
                "Arn": saml_provider_arn(ctx.account_id, r.name),
                "CreateDate": r.created_at,
                "ValidUntil": r.valid_until,
            }
            for r in rows
        ]
    }


@operation("UpdateSAMLProvider")
def update_saml_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["SAMLProviderArn"])
    row, _ = _authorized_provider(ctx, arn)
    document = params.get("SAMLMetadataDocument")
    if document is None:
        raise InvalidInput(
            "Unable to update identity provider. No updates are defined for metadata or "
            "encryption assertion."
        )
    idp = parse_metadata(str(document))
    if not lock_row(ctx.conn, _sp, _sp.c.provider_id, row.provider_id):
        raise _not_found(arn)
    ctx.conn.execute(
        _sp.update()
        .where(_sp.c.provider_id == row.provider_id)
        .values(
            metadata_document=str(document),
            metadata_sha256=document_digest(str(document)),
            entity_id=idp.entity_id[:1024],
            valid_until=_valid_until(idp.valid_until, ctx.info.now),
        )
    )
    ctx.changed_authorization()
    return {"SAMLProviderArn": saml_provider_arn(ctx.account_id, row.name)}


@operation("DeleteSAMLProvider")
def delete_saml_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    arn = str(params["SAMLProviderArn"])
    row, _ = _authorized_provider(ctx, arn)
    ctx.conn.execute(_sp.delete().where(_sp.c.provider_id == row.provider_id))
    delete_owned(ctx.conn, TAG_TYPE, row.provider_id)
    ctx.changed_authorization()  # its role sessions end with it (FK cascade)
    return {}


@operation("TagSAMLProvider", light=True)
def tag_saml_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    tags = tagging.request_tags(params["Tags"])
    row, _ = _authorized_provider(ctx, str(params["SAMLProviderArn"]), request_tags=tags)
    if not lock_row(ctx.conn, _sp, _sp.c.provider_id, row.provider_id):
        raise _not_found(str(params["SAMLProviderArn"]))
    tagging.put_tags(ctx.conn, TAG_TYPE, row.provider_id, tags, TAGS_QUOTA)
    ctx.changed_authorization()
    return {}


@operation("UntagSAMLProvider", light=True)
def untag_saml_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    keys = [str(k) for k in params["TagKeys"]]
    row, _ = _authorized_provider(
        ctx, str(params["SAMLProviderArn"]), extra_context={"aws:TagKeys": keys}
    )
    tagging.remove_tags(ctx.conn, TAG_TYPE, row.provider_id, keys)
    ctx.changed_authorization()
    return {}


@operation("ListSAMLProviderTags", writes=False)
def list_saml_provider_tags(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row, _ = _authorized_provider(ctx, str(params["SAMLProviderArn"]))
    return tagging.list_tags_page(ctx.conn, TAG_TYPE, row.provider_id, params)
