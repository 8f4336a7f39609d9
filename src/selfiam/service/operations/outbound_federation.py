"""Outbound web identity federation: selfiam signs JSON Web Tokens that name the calling
principal, for services that trust an OpenID Connect issuer (issue 15).

EnableOutboundWebIdentityFederation makes the account's issuer and its signing keys (one
ES384, one RS256; the private keys sealed under the master key like access keys' secrets);
``sts:GetWebIdentityToken`` signs a token (API_GetWebIdentityToken.html: ``aud`` from
Audience, ``sub`` the caller's ARN, ``exp`` after DurationSeconds, default 300, the claims
of AWS's ``https://sts.amazonaws.com/`` namespace, ``scope``, the request's tags); the
issuer's OpenID configuration and JWKS are public (``outbound_discovery``, served by
``app.py`` under ``/outbound/<id>/.well-known/``). The issuer is
``<SELFIAM_PUBLIC_URL>/outbound/<id>``: set the public URL so that relying parties reach it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import select
from sqlalchemy.engine import Connection

from selfiam.domain.errors import AwsError, ValidationError
from selfiam.service.context import OperationContext
from selfiam.service.operations.account_settings import preferences, set_preferences
from selfiam.service.registry import operation
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction

ALGORITHMS = ("ES384", "RS256")
DEFAULT_DURATION = 300
#: Where no public URL is configured: an issuer no relying party can reach (RFC 6761).
UNREACHABLE = "https://selfiam.invalid"
NAMESPACE = "https://sts.amazonaws.com/"


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


class OutboundWebIdentityFederationDisabled(AwsError):
    """botocore's STS OutboundWebIdentityFederationDisabledException (403)."""

    code = "OutboundWebIdentityFederationDisabledException"
    status = 403
    sender_fault = True


def issuer_url(runtime: Runtime, issuer_id: str) -> str:
    base = (runtime.public_url or UNREACHABLE).rstrip("/")
    return f"{base}/outbound/{issuer_id}"


def _issuer_id(conn: Connection, account_id: str) -> str | None:
    """The account's issuer id while the feature is enabled, else None."""
    row = preferences(conn, account_id)
    if row is None or not row.outbound_federation:
        return None
    return str(row.outbound_issuer_id)


def _make_keys(ctx: OperationContext) -> None:
    keys = t.outbound_signing_keys
    held = ctx.conn.execute(
        select(keys.c.algorithm).where(keys.c.account_id == ctx.account_id)
    ).scalars()
    missing = set(ALGORITHMS) - set(held)
    for algorithm in sorted(missing):
        key: ECKey | RSAKey = (
            ECKey.generate_key("P-384", auto_kid=True)
            if algorithm == "ES384"
            else RSAKey.generate_key(2048, auto_kid=True)
        )
        kid = str(key.kid)
        public = {**key.as_dict(private=False), "alg": algorithm, "use": "sig"}
        ctx.conn.execute(
            keys.insert().values(
                kid=kid,
                account_id=ctx.account_id,
                algorithm=algorithm,
                public_jwk=json.dumps(public),
                private_ciphertext=ctx.runtime.box.seal(key.as_pem(private=True), kid.encode()),
                created_at=ctx.info.now,
            )
        )


@operation("EnableOutboundWebIdentityFederation")
def enable_outbound(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    row = preferences(ctx.conn, ctx.account_id)
    if row is not None and row.outbound_federation:
        raise FeatureEnabled("Outbound web identity federation is already enabled.")
    # enabled again, the issuer (and its keys) are the same ones
    issuer_id = (row.outbound_issuer_id if row is not None else None) or uuid.uuid4().hex
    set_preferences(
        ctx.conn, ctx.account_id, outbound_federation=True, outbound_issuer_id=issuer_id
    )
    _make_keys(ctx)
    return {"IssuerIdentifier": issuer_url(ctx.runtime, issuer_id)}


@operation("DisableOutboundWebIdentityFederation")
def disable_outbound(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    if _issuer_id(ctx.conn, ctx.account_id) is None:
        raise FeatureDisabled("Outbound web identity federation is already disabled.")
    set_preferences(ctx.conn, ctx.account_id, outbound_federation=False)
    return {}


@operation("GetOutboundWebIdentityFederationInfo", writes=False)
def get_outbound_info(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    ctx.authorize("*")
    issuer_id = _issuer_id(ctx.conn, ctx.account_id)
    if issuer_id is None:
        raise FeatureDisabled("Outbound web identity federation is disabled for this account.")
    return {"IssuerIdentifier": issuer_url(ctx.runtime, issuer_id), "JwtVendingEnabled": True}


@operation("GetWebIdentityToken", service="sts", writes=False)
def get_web_identity_token(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    audiences = [str(a) for a in params["Audience"]]
    algorithm = str(params["SigningAlgorithm"])
    duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
    # AWS's condition keys of sts:GetWebIdentityToken (Service Authorization Reference)
    ctx.authorize(
        "*",
        extra_context={
            "sts:IdentityTokenAudience": audiences,
            "sts:SigningAlgorithm": algorithm,
            "sts:DurationSeconds": str(duration),
        },
    )
    if algorithm not in ALGORITHMS:
        raise ValidationError(
            f"1 validation error detected: Value '{algorithm}' at 'signingAlgorithm' failed "
            "to satisfy constraint: Member must satisfy enum value set: [RS256, ES384]"
        )
    issuer_id = _issuer_id(ctx.conn, ctx.account_id)
    if issuer_id is None:
        raise OutboundWebIdentityFederationDisabled(
            "Outbound web identity federation is not enabled for this account."
        )
    keys = t.outbound_signing_keys
    row = ctx.conn.execute(
        select(keys.c.kid, keys.c.private_ciphertext).where(
            keys.c.account_id == ctx.account_id, keys.c.algorithm == algorithm
        )
    ).one()
    pem = ctx.runtime.box.open(row.private_ciphertext, str(row.kid).encode())
    key: ECKey | RSAKey = ECKey.import_key(pem) if algorithm == "ES384" else RSAKey.import_key(pem)
    now = ctx.info.now
    expires = now + timedelta(seconds=duration)
    caller = ctx.caller
    principal = caller.role_arn if caller.role_id and caller.role_arn else caller.arn
    claims: dict[str, Any] = {
        "iss": issuer_url(ctx.runtime, issuer_id),
        "sub": principal,
        "aud": audiences[0] if len(audiences) == 1 else audiences,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": str(uuid.uuid4()),
        NAMESPACE: {"aws_account": ctx.account_id, "principal_id": principal},
    }
    if params.get("Scope"):
        claims["scope"] = str(params["Scope"])
    if params.get("Tags"):
        claims[NAMESPACE]["request_tags"] = {
            str(tag["Key"]): str(tag["Value"]) for tag in params["Tags"]
        }
    header = {"alg": algorithm, "kid": str(row.kid), "typ": "JWT"}
    token = jwt.encode(header, claims, key, algorithms=[algorithm])
    return {"WebIdentityToken": token, "Expiration": expires}


def outbound_discovery(
    runtime: Runtime, issuer_id: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The issuer's OpenID configuration and JWKS (public: no authorization, as AWS
    publishes them), or None for no enabled issuer of that id."""
    prefs, keys = t.account_preferences, t.outbound_signing_keys
    with read_transaction(runtime.engine) as conn:
        account = conn.execute(
            select(prefs.c.account_id).where(
                prefs.c.outbound_issuer_id == issuer_id, prefs.c.outbound_federation.is_(True)
            )
        ).scalar()
        if account is None:
            return None
        jwks = conn.execute(
            select(keys.c.public_jwk).where(keys.c.account_id == account).order_by(keys.c.kid)
        ).scalars()
        public_keys = [json.loads(k) for k in jwks]
    issuer = issuer_url(runtime, issuer_id)
    configuration = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
    }
    return configuration, {"keys": public_keys}
