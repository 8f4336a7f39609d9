"""Account-level settings that AWS keeps outside IAM's entities (issue 15):
GetAccountProperties / PutAccountProperties, SetSecurityTokenServicePreferences (reflected
in GetAccountSummary's ``GlobalEndpointTokenVersion``), and the switch of outbound web
identity federation (Enable/Disable/GetOutboundWebIdentityFederationInfo).

All of them authorize on ``*`` (the IAM Service Authorization Reference lists no resource
type for them): an administrator's, never a member's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from selfiam.domain.errors import AwsError, InvalidInput, LimitExceeded
from selfiam.service.context import OperationContext
from selfiam.service.registry import operation
from selfiam.store import tables as t

#: AWS's shape of a property key (API_PutAccountProperties.html): ``Namespace/PropertyName``.
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*/[A-Za-z0-9_-]+")
#: The properties an account may hold (selfiam's bound; AWS defines a few per namespace).
MAX_PROPERTIES = 100
#: GetAccountSummary's GlobalEndpointTokenVersion for each preference.
TOKEN_VERSIONS = {"v1Token": 1, "v2Token": 2}


class FeatureEnabled(AwsError):
    """botocore's FeatureEnabledException (code FeatureEnabled, 409)."""

    code = "FeatureEnabled"
    status = 409
    sender_fault = True


class FeatureDisabled(AwsError):
    """botocore's FeatureDisabledException (code FeatureDisabled, 404)."""

    code = "FeatureDisabled"
    status = 404
    sender_fault = True


# -- preferences --------------------------------------------------------------------------


def preferences(conn: Connection, account_id: str) -> Any | None:
    p = t.account_preferences
    return conn.execute(select(p).where(p.c.account_id == account_id)).first()


def sts_token_version(conn: Connection, account_id: str) -> int:
    """GetAccountSummary's ``GlobalEndpointTokenVersion``: 1 unless set to v2Token."""
    row = preferences(conn, account_id)
    return TOKEN_VERSIONS[row.sts_token_version] if row is not None else 1


def _set_preferences(conn: Connection, account_id: str, **values: Any) -> None:
    p = t.account_preferences
    updated = conn.execute(p.update().where(p.c.account_id == account_id).values(**values))
    if updated.rowcount == 0:
        conn.execute(p.insert().values(account_id=account_id, **values))


@operation("SetSecurityTokenServicePreferences")
def set_sts_preferences(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    _set_preferences(
        ctx.conn, ctx.account_id, sts_token_version=str(params["GlobalEndpointTokenVersion"])
    )
    return {}


# -- account properties -------------------------------------------------------------------


@operation("GetAccountProperties", writes=False)
def get_account_properties(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    ap = t.account_properties
    rows = ctx.conn.execute(
        select(ap.c.key, ap.c.value).where(ap.c.account_id == ctx.account_id).order_by(ap.c.key)
    ).all()
    return {"Properties": {key: value for key, value in rows}}


@operation("PutAccountProperties")
def put_account_properties(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Keys are ``Namespace/PropertyName``, exactly one ``/``, all of one namespace; a value
    of ``true``/``false`` is stored as given (AWS checks each key's type; selfiam defines
    no property with a type of its own, so it keeps what it is told)."""
    ctx.authorize("*")
    given: Mapping[str, Any] = params["Properties"]
    if not given:
        raise InvalidInput("Properties must contain at least one property.")
    namespaces = set()
    for key, value in given.items():
        if not _KEY.fullmatch(str(key)) or len(str(key)) > 50:
            raise InvalidInput(
                f"Property key {key} is not valid: it must be Namespace/PropertyName."
            )
        if not 1 <= len(str(value)) <= 1024:
            raise InvalidInput(f"The value of property {key} must be 1 to 1024 characters.")
        namespaces.add(str(key).split("/", 1)[0])
    if len(namespaces) > 1:
        raise InvalidInput("All properties of a request must belong to the same namespace.")
    ap = t.account_properties
    ctx.conn.execute(delete(ap).where(ap.c.account_id == ctx.account_id, ap.c.key.in_(list(given))))
    held = ctx.conn.execute(
        select(func.count()).select_from(ap).where(ap.c.account_id == ctx.account_id)
    ).scalar_one()
    if held + len(given) > MAX_PROPERTIES:
        raise LimitExceeded(f"Cannot exceed quota for AccountProperties: {MAX_PROPERTIES}.")
    ctx.conn.execute(
        ap.insert(),
        [{"account_id": ctx.account_id, "key": str(k), "value": str(v)} for k, v in given.items()],
    )
    return {}


# -- outbound web identity federation -----------------------------------------------------


def outbound_issuer(conn: Connection, account_id: str) -> str | None:
    """The issuer of the account's outbound tokens, or None while the feature is off."""
    row = preferences(conn, account_id)
    if row is None or not row.outbound_federation:
        return None
    return issuer_for(account_id, row.outbound_issuer_id)


def issuer_for(account_id: str, issuer_id: str | None) -> str:
    """AWS's form of an issuer: a unique host name per account under the STS domain
    (``https://<id>.tokens.sts.global.api.aws``); selfiam's is its own, on no AWS domain."""
    return f"https://{issuer_id or account_id}.tokens.sts.selfiam.invalid"


@operation("EnableOutboundWebIdentityFederation")
def enable_outbound(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    row = preferences(ctx.conn, ctx.account_id)
    if row is not None and row.outbound_federation:
        raise FeatureEnabled("Outbound web identity federation is already enabled.")
    issuer_id = (row.outbound_issuer_id if row is not None else None) or str(uuid.uuid4())
    _set_preferences(
        ctx.conn, ctx.account_id, outbound_federation=True, outbound_issuer_id=issuer_id
    )
    return {"IssuerIdentifier": issuer_for(ctx.account_id, issuer_id)}


@operation("DisableOutboundWebIdentityFederation")
def disable_outbound(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    if outbound_issuer(ctx.conn, ctx.account_id) is None:
        raise FeatureDisabled("Outbound web identity federation is already disabled.")
    _set_preferences(ctx.conn, ctx.account_id, outbound_federation=False)
    return {}


@operation("GetOutboundWebIdentityFederationInfo", writes=False)
def get_outbound_info(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    issuer = outbound_issuer(ctx.conn, ctx.account_id)
    if issuer is None:
        raise FeatureDisabled("Outbound web identity federation is disabled for this account.")
    return {"IssuerIdentifier": issuer, "JwtVendingEnabled": False}


class OutboundWebIdentityFederationDisabled(AwsError):
    """botocore's STS OutboundWebIdentityFederationDisabledException (403)."""

    code = "OutboundWebIdentityFederationDisabledException"
    status = 403
    sender_fault = True


@operation("GetWebIdentityToken", service="sts", writes=False)
def get_web_identity_token(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """selfiam does not vend outbound tokens (GetOutboundWebIdentityFederationInfo says
    ``JwtVendingEnabled: false``): AWS's answer for an account whose outbound federation
    does not vend them."""
    ctx.authorize("*")
    if outbound_issuer(ctx.conn, ctx.account_id) is None:
        raise OutboundWebIdentityFederationDisabled(
            "Outbound web identity federation is not enabled for this account."
        )
    raise OutboundWebIdentityFederationDisabled(
        "This account's outbound web identity federation does not vend tokens."
    )
