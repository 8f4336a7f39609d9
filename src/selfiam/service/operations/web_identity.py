"""STS AssumeRoleWithWebIdentity: a role session for the bearer of an OpenID Connect token.

The request is unsigned (the token is the credential). Before any transaction opens
(``prepare``: the fetch of the issuer's keys must hold no database lock) the token
is verified (``service/oidc/tokens.py``) against a provider of the role's account.
Then, in the operation's transaction, the provider is locked and looked at again (a
provider deleted, or a client id removed, while the token was in flight refuses it),
and the role's trust policy decides for the principal ``Federated: <provider ARN>``
with the token's claims as AWS's condition keys: ``NAME:aud``, ``NAME:sub``,
``NAME:amr``, ``NAME:oaud`` (NAME is the provider's URL without ``https://``),
``aws:FederatedProvider`` and ``sts:RoleSessionName``. The session is a role session
(``issue_session``) that ends with its role or its provider.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row

from selfiam.domain.arns import arn_account, role_arn
from selfiam.domain.errors import InvalidIdentityToken
from selfiam.policy import PolicyKind
from selfiam.service.authz import request_tag_context, resource_tag_context
from selfiam.service.caller import RequestInfo
from selfiam.service.compiled import compiled_policy
from selfiam.service.context import OperationContext
from selfiam.service.oidc.tokens import WRONG_AUDIENCE, VerifiedToken, verify_token
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.assume_role import (
    NewSession,
    check_session_size,
    issue_session,
    role_for,
    session_params,
)
from selfiam.service.operations.oidc_providers import (
    find_provider,
    issuer_provider_name,
    provider_arn,
)
from selfiam.service.registry import operation
from selfiam.service.trust_principals import trust_to_evaluate
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction
from selfiam.store.locks import lock_row

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime

#: AWS's AccessDenied for a trust policy that does not admit the token.
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
#: The claims AWS reads session tags and a source identity from.
TAGS_CLAIM = "https://aws.amazon.com/tags"
SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"
_VERIFIED = "_verified_web_identity"


def verify_web_identity(
    runtime: Runtime, params: Mapping[str, Any], info: RequestInfo
) -> Mapping[str, Any]:
    """Verify the token before the transaction (the issuer's keys may be fetched)."""
    account = arn_account(str(params["RoleArn"]))

    def client_ids(issuer: str) -> list[str] | None:
        name = issuer_provider_name(issuer)
        if account is None or name is None:
            return None
        with read_transaction(runtime.engine) as conn:
            row = find_provider(conn, account, name)
        return None if row is None else list(json.loads(row.client_ids))

    verified = verify_token(
        str(params["WebIdentityToken"]), client_ids, runtime.issuer_keys, info.now
    )
    return {**params, _VERIFIED: verified}


def _claim_context(name: str, token: VerifiedToken) -> dict[str, str | Sequence[str]]:
    claims = token.claims
    values: dict[str, str | Sequence[str]] = {
        f"{name}:aud": token.audience,
        f"{name}:sub": token.subject,
    }
    amr = claims.get("amr")
    if isinstance(amr, str):
        values[f"{name}:amr"] = amr
    elif isinstance(amr, list) and all(isinstance(a, str) for a in amr):
        values[f"{name}:amr"] = list(amr)
    if isinstance(claims.get("azp"), str):
        aud = claims.get("aud")
        if isinstance(aud, str):
            values[f"{name}:oaud"] = aud
        elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
            values[f"{name}:oaud"] = list(aud)
    return values


def _token_tags(token: VerifiedToken) -> tuple[dict[str, str], list[str]]:
    """Session tags and transitive keys from the ``https://aws.amazon.com/tags`` claim:
    ``{"principal_tags": {"key": ["value"]}, "transitive_tag_keys": ["key"]}``."""
    claim = token.claims.get(TAGS_CLAIM)
    if claim is None:
        return {}, []
    if not isinstance(claim, dict):
        raise InvalidIdentityToken(f"The {TAGS_CLAIM} claim is not a JSON object.")
    tags: dict[str, str] = {}
    principal_tags = claim.get("principal_tags") or {}
    if not isinstance(principal_tags, dict) or len(principal_tags) > tagging.TAGS_PER_RESOURCE:
        raise InvalidIdentityToken(f"The {TAGS_CLAIM} claim holds invalid principal_tags.")
    for key, value in principal_tags.items():
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str) or not 1 <= len(key) <= 128 or len(value) > 256:
            raise InvalidIdentityToken(f"The {TAGS_CLAIM} claim holds an invalid tag {key!r}.")
        tags[key] = value
    transitive = claim.get("transitive_tag_keys") or []
    if not isinstance(transitive, list) or not all(k in tags for k in transitive):
        raise InvalidIdentityToken(f"The {TAGS_CLAIM} claim holds invalid transitive_tag_keys.")
    return tags, [str(k) for k in transitive]


def _source_identity(token: VerifiedToken) -> str | None:
    value = token.claims.get(SOURCE_IDENTITY_CLAIM)
    if value is None:
        return None
    if not isinstance(value, str) or not 2 <= len(value) <= 64:
        raise InvalidIdentityToken(f"The {SOURCE_IDENTITY_CLAIM} claim is invalid.")
    return value


def _locked_provider(ctx: OperationContext, account: str, token: VerifiedToken) -> Row[Any]:
    """The token's provider as it is now, locked until the session is stored."""
    missing = InvalidIdentityToken(
        f"No OpenIDConnect provider found in your account for {token.issuer}"
    )
    name = issuer_provider_name(token.issuer)
    row = find_provider(ctx.conn, account, name) if name is not None else None
    if row is None:
        raise missing
    p = t.oidc_providers
    if not lock_row(ctx.conn, p, p.c.provider_id, row.provider_id):
        raise missing
    row = find_provider(ctx.conn, account, row.name)
    if row is None:
        raise missing
    if token.audience not in json.loads(row.client_ids):
        raise InvalidIdentityToken(WRONG_AUDIENCE)
    return row


@operation("AssumeRoleWithWebIdentity", service="sts", prepare=verify_web_identity)
def assume_role_with_web_identity(
    ctx: OperationContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    token: VerifiedToken = params[_VERIFIED]
    arn = str(params["RoleArn"])
    session_name = str(params["RoleSessionName"])
    asked = session_params(params)
    account = arn_account(arn) or ""
    provider = _locked_provider(ctx, account, token)
    federated = provider_arn(account, provider.name)
    tags, transitive = _token_tags(token)
    source_identity = _source_identity(token)

    found = role_for(ctx.conn, account, arn)
    if found is None:
        ctx.refuse(arn, message=NOT_AUTHORIZED)
    role, role_tags = found
    resource = role_arn(account, role.name, role.path)
    context: dict[str, str | Sequence[str]] = {
        **_claim_context(provider.name, token),
        "aws:FederatedProvider": federated,
        "sts:RoleSessionName": session_name,
        **resource_tag_context(resource, role_tags),
    }
    if source_identity is not None:
        context["sts:SourceIdentity"] = source_identity
    if transitive:
        context["sts:TransitiveTagKeys"] = transitive
    trust = compiled_policy(trust_to_evaluate(ctx.conn, role), PolicyKind.TRUST, resource)
    ctx.authorize_federated(
        resource,
        principal_arn=federated,
        account_id=account,
        trust=trust,
        context=context,
        denial=NOT_AUTHORIZED,
    )
    if tags:
        # Session tags from the token are passed only if the trust policy allows tagging.
        tag_context = {**context, **request_tag_context(tags)}
        ctx.authorize_federated(
            resource,
            action="sts:TagSession",
            principal_arn=federated,
            account_id=account,
            trust=trust,
            context=tag_context,
            denial=NOT_AUTHORIZED,
        )
    if source_identity is not None:
        # The token's source identity claim is set only if the trust policy allows it.
        ctx.authorize_federated(
            resource,
            action="sts:SetSourceIdentity",
            principal_arn=federated,
            account_id=account,
            trust=trust,
            context=context,
            denial=NOT_AUTHORIZED,
        )
    packed = check_session_size(role, asked.duration, asked.session_policy, asked.policy_arns, tags)
    out = issue_session(
        ctx,
        role,
        NewSession(
            session_name=session_name,
            duration=asked.duration,
            oidc_provider_id=provider.provider_id,
            source_identity=source_identity,
            session_policy=asked.session_policy,
            policy_arns=asked.policy_arns,
            session_tags=tags,
            transitive=transitive,
            packed=packed,
        ),
    )
    out["SubjectFromWebIdentityToken"] = token.subject
    out["Audience"] = token.audience
    out["Provider"] = token.issuer
    return out
