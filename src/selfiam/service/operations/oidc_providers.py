"""IAM OpenID Connect providers: the issuers whose tokens AssumeRoleWithWebIdentity accepts.

A provider is named by its issuer URL without ``https://`` (the host lower-cased, a
port and a path kept as given): ``arn:aws:iam::ACCOUNT:oidc-provider/NAME``. A token
is accepted only when its ``iss`` is ``https://NAME`` of a provider of the role's
account and its ``aud`` is one of the provider's client ids (``web_identity``).

ThumbprintList is validated and kept, as AWS does, but the issuer's keys are
trusted through TLS: the documents are fetched with the system's trust store (plus
``SSL_CERT_FILE``), not pinned to a thumbprint. Deleting a provider ends the role
sessions its tokens started (``role_sessions.oidc_provider_id`` cascades).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain.arns import PARTITION
from selfiam.domain.errors import (
    AwsError,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    ValidationError,
)
from selfiam.service.context import OperationContext
from selfiam.service.operations import tags as tagging
from selfiam.service.quotas import check_account_quota
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_row

#: AWS's quotas: providers per account, client ids per provider, thumbprints per provider.
PROVIDERS_QUOTA = 100
CLIENT_IDS_QUOTA = 100
THUMBPRINTS_QUOTA = 5
TAGS_QUOTA = "TagsPerOpenIdConnectProvider"
TAG_TYPE = "oidc-provider"
INVALID_URL = "Invalid Open ID Connect Provider URL"
TOO_MANY_THUMBPRINTS = "Thumbprint list must contain fewer than 5 entries."
TOO_MANY_CLIENT_IDS = (
    f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS_QUOTA}"
)
_THUMBPRINT_RE = re.compile(r"[0-9A-Fa-f]{40}")
_ARN_RE = re.compile(r"arn:aws:iam::([0-9]{12}):oidc-provider/(.+)")


def provider_arn(account_id: str, name: str) -> str:
    return f"arn:{PARTITION}:iam::{account_id}:oidc-provider/{name}"


def provider_name(url: str) -> str:
    """The provider's name for an issuer URL (``https://HOST[:PORT][/PATH]``), or
    ValidationError. The host is lower-cased (DNS names ignore case); the path is kept."""
    if not url.lower().startswith("https://"):
        raise ValidationError(INVALID_URL)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise ValidationError(INVALID_URL) from None
    host = parts.hostname
    if not host or parts.query or parts.fragment or "@" in parts.netloc or " " in url:
        raise ValidationError(INVALID_URL)
    netloc = host.lower() + (f":{parts.port}" if parts.port is not None else "")
    return netloc + parts.path


def issuer_provider_name(issuer: str) -> str | None:
    """The provider name a token's ``iss`` claim names, or None if it is no https URL."""
    try:
        return provider_name(issuer)
    except ValidationError:
        return None


def _no_such_provider(arn: str) -> AwsError:
    return NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")


def find_provider(conn: Connection, account_id: str, name: str) -> Row[Any] | None:
    p = t.oidc_providers
    return conn.execute(select(p).where(p.c.account_id == account_id, p.c.name == name)).first()


def provider_by_arn(conn: Connection, account_id: str, arn: str) -> Row[Any] | None:
    """The provider ``arn`` names in ``account_id``, or None."""
    m = _ARN_RE.fullmatch(arn)
    if m is None or m.group(1) != account_id:
        return None
    return find_provider(conn, account_id, m.group(2))


def is_oidc_provider_arn(arn: str) -> bool:
    return _ARN_RE.fullmatch(arn) is not None


def _provider_or_none(
    ctx: OperationContext,
    params: Mapping[str, Any],
    *,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> Row[Any] | None:
    """Authorize on the ARN given (with the provider's tags), then the provider's row."""
    arn = str(params["OpenIDConnectProviderArn"])
    row = provider_by_arn(ctx.conn, ctx.account_id, arn)
    tags = tagging.load_tags(ctx.conn, TAG_TYPE, row.provider_id) if row is not None else None
    ctx.authorize(arn, resource_tags=tags, request_tags=request_tags, extra_context=extra_context)
    return row


def _authorized_provider(
    ctx: OperationContext,
    params: Mapping[str, Any],
    *,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, str | Sequence[str]] | None = None,
) -> Row[Any]:
    """As ``_provider_or_none``; NoSuchEntity for a provider that does not exist."""
    row = _provider_or_none(ctx, params, request_tags=request_tags, extra_context=extra_context)
    if row is None:
        raise _no_such_provider(str(params["OpenIDConnectProviderArn"]))
    return row


def _locked(ctx: OperationContext, row: Row[Any], arn: str) -> None:
    if not lock_row(ctx.conn, t.oidc_providers, t.oidc_providers.c.provider_id, row.provider_id):
        raise _no_such_provider(arn)


def _thumbprints(given: Sequence[Any] | None) -> list[str]:
    prints = [str(p) for p in given or ()]
    if len(prints) > THUMBPRINTS_QUOTA:
        raise InvalidInput(TOO_MANY_THUMBPRINTS)
    for value in prints:
        if not _THUMBPRINT_RE.fullmatch(value):
            raise ValidationError(
                f"1 validation error detected: Value '{value}' at 'thumbprintList' failed "
                "to satisfy constraint: Member must be 40 hexadecimal characters"
            )
    unique: list[str] = []
    for value in prints:
        if value.lower() not in (u.lower() for u in unique):
            unique.append(value)
    return unique


def _client_ids(given: Sequence[Any] | None) -> list[str]:
    unique = list(dict.fromkeys(str(c) for c in given or ()))
    if len(unique) > CLIENT_IDS_QUOTA:
        raise LimitExceeded(TOO_MANY_CLIENT_IDS)
    return unique


@operation("CreateOpenIDConnectProvider")
def create_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    url = str(params["Url"])
    name = provider_name(url)
    arn = provider_arn(ctx.account_id, name)
    tags = tagging.request_tags(params.get("Tags"))
    tagging.authorize_create(ctx, arn, tags, "iam:TagOpenIDConnectProvider")
    client_ids = _client_ids(params.get("ClientIDList"))
    thumbprints = _thumbprints(params.get("ThumbprintList"))
    check_account_quota(
        ctx, t.oidc_providers.c.account_id, "OpenIdConnectProvidersPerAccount", PROVIDERS_QUOTA
    )
    if find_provider(ctx.conn, ctx.account_id, name) is not None:
        raise EntityAlreadyExists(f"Provider with url {url} already exists.")
    provider_id = uuid.uuid4().hex
    try:
        ctx.conn.execute(
            t.oidc_providers.insert().values(
                provider_id=provider_id,
                account_id=ctx.account_id,
                name=name,
                client_ids=json.dumps(client_ids),
                thumbprints=json.dumps(thumbprints),
                created_at=ctx.info.now,
            )
        )
    except IntegrityError:
        raise EntityAlreadyExists(f"Provider with url {url} already exists.") from None
    tagging.put_tags(ctx.conn, TAG_TYPE, provider_id, tags, TAGS_QUOTA)
    out: dict[str, Any] = {"OpenIDConnectProviderArn": arn}
    if tags:
        out["Tags"] = tagging.tag_list(tags)
    return out


@operation("GetOpenIDConnectProvider", writes=False)
def get_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row = _authorized_provider(ctx, params)
    out: dict[str, Any] = {
        "Url": row.name,
        "ClientIDList": json.loads(row.client_ids),
        "ThumbprintList": json.loads(row.thumbprints),
        "CreateDate": row.created_at,
    }
    tags = tagging.load_tags(ctx.conn, TAG_TYPE, row.provider_id)
    if tags:
        out["Tags"] = tagging.tag_list(tags)
    return out


@operation("ListOpenIDConnectProviders", writes=False)
def list_providers(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    p = t.oidc_providers
    names = ctx.conn.execute(
        select(p.c.name).where(p.c.account_id == ctx.account_id).order_by(p.c.name)
    ).scalars()
    # At most PROVIDERS_QUOTA rows: AWS does not page this list.
    return {"OpenIDConnectProviderList": [{"Arn": provider_arn(ctx.account_id, n)} for n in names]}


@operation("DeleteOpenIDConnectProvider")
def delete_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row = _provider_or_none(ctx, params)
    if row is None:
        return {}  # AWS: idempotent, no error for a provider that does not exist
    ctx.conn.execute(
        t.tags.delete().where(
            t.tags.c.resource_type == TAG_TYPE, t.tags.c.resource_id == row.provider_id
        )
    )
    ctx.conn.execute(
        t.oidc_providers.delete().where(t.oidc_providers.c.provider_id == row.provider_id)
    )
    ctx.changed_credentials()  # the provider's role sessions end with it (FK cascade)
    return {}


@operation("AddClientIDToOpenIDConnectProvider")
def add_client_id(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    provider_id, current, client_id = _client_id_change(ctx, params)
    if client_id not in current:
        _store(ctx, provider_id, client_ids=_client_ids([*current, client_id]))
    return {}


@operation("RemoveClientIDFromOpenIDConnectProvider")
def remove_client_id(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    provider_id, current, client_id = _client_id_change(ctx, params)
    if client_id in current:
        _store(ctx, provider_id, client_ids=[c for c in current if c != client_id])
    return {}


@operation("UpdateOpenIDConnectProviderThumbprint")
def update_thumbprints(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row = _authorized_provider(ctx, params)
    thumbprints = _thumbprints(params.get("ThumbprintList"))
    _locked(ctx, row, str(params["OpenIDConnectProviderArn"]))
    _store(ctx, row.provider_id, thumbprints=thumbprints)
    return {}


@operation("TagOpenIDConnectProvider", light=True)
def tag_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    tags = tagging.request_tags(params["Tags"])
    row = _authorized_provider(ctx, params, request_tags=tags)
    _locked(ctx, row, str(params["OpenIDConnectProviderArn"]))
    tagging.put_tags(ctx.conn, TAG_TYPE, row.provider_id, tags, TAGS_QUOTA)
    return {}


@operation("UntagOpenIDConnectProvider", light=True)
def untag_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    keys = [str(k) for k in params["TagKeys"]]
    row = _authorized_provider(ctx, params, extra_context={"aws:TagKeys": keys})
    tagging.remove_tags(ctx.conn, TAG_TYPE, row.provider_id, keys)
    return {}


@operation("ListOpenIDConnectProviderTags", writes=False)
def list_provider_tags(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    row = _authorized_provider(ctx, params)
    return tagging.list_tags_page(ctx.conn, TAG_TYPE, row.provider_id, params)


def _client_id_change(
    ctx: OperationContext, params: Mapping[str, Any]
) -> tuple[str, list[str], str]:
    """Authorize on the provider and lock it: (its id, its client IDs as they are under
    the lock, the ClientID given)."""
    row = _authorized_provider(ctx, params)
    _locked(ctx, row, str(params["OpenIDConnectProviderArn"]))
    current: list[str] = json.loads(_reread(ctx, row.provider_id).client_ids)
    return row.provider_id, current, str(params["ClientID"])


def _reread(ctx: OperationContext, provider_id: str) -> Row[Any]:
    """The provider's row as it is under the lock just taken."""
    p = t.oidc_providers
    row = ctx.conn.execute(select(p).where(p.c.provider_id == provider_id)).first()
    assert row is not None  # locked: it exists
    return row


def _store(
    ctx: OperationContext,
    provider_id: str,
    *,
    client_ids: list[str] | None = None,
    thumbprints: list[str] | None = None,
) -> None:
    values: dict[str, str] = {}
    if client_ids is not None:
        values["client_ids"] = json.dumps(client_ids)
    if thumbprints is not None:
        values["thumbprints"] = json.dumps(thumbprints)
    p = t.oidc_providers
    ctx.conn.execute(p.update().where(p.c.provider_id == provider_id).values(**values))


@operation("UpdateOpenIDConnectProvider")
def update_provider(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Links a provider to an IAM Identity Center instance (trusted identity propagation).

    A self-hosted account has no Identity Center instance to link: removing a link (there
    is none) succeeds, making one is InvalidInput, after the provider is authorized and
    found as for every other provider operation.
    """
    _authorized_provider(ctx, params)
    if params.get("IdentityCenterInstanceArn") is not None:
        raise InvalidInput(
            f"The Identity Center instance {params['IdentityCenterInstanceArn']} does not exist."
        )
    if params.get("ContextProvider") is not None:
        raise InvalidInput(
            "A context provider needs an IAM Identity Center instance, and this account has none."
        )
    return {}
