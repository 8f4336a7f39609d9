"""STS AssumeRoleWithSAML: a role session for a user an IdP vouches for.

The request is unsigned (``api/unsigned.py``): the SAML response is the credential,
and the caller is ``Caller.unsigned()``. The account is the role's (RoleArn). In
order: the provider named by PrincipalArn must exist in that account; the response
must carry an assertion signed by one of the provider's metadata certificates, issued
by the provider's entity, addressed to an accepted audience, within its validity, and
never redeemed before (``saml_assertions_used``, shared by every process); its Role
attribute must hold the requested (role, provider) pair; the role's trust policy
(``trust_to_evaluate``) must allow ``sts:AssumeRoleWithSAML`` (and ``sts:TagSession``
for session tags, ``sts:SetSourceIdentity`` for a SourceIdentity attribute) by the provider as a Federated principal
(``ctx.authorize_federated``), with the assertion's ``saml:*`` keys in the context.
The session is issued by AssumeRole's ``issue_session`` and ends with its role or its
provider (``role_sessions.saml_provider_id``).

Accepted audiences (Audience, and SubjectConfirmationData's Recipient when given):
``https://signin.aws.amazon.com/saml`` and ``urn:amazon:webservices`` (what IdPs set up
for AWS send) and the one the operator configured (``SELFIAM_SAML_AUDIENCE``, e.g. the
portal's ``https://iam.example.com/portal/saml``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from selfiam.domain.arns import arn_account, role_arn
from selfiam.domain.errors import AccessDenied, AwsError, InvalidIdentityToken
from selfiam.policy import PolicyKind
from selfiam.service.authz import request_tag_context, resource_tag_context
from selfiam.service.compiled import compiled_policy
from selfiam.service.context import OperationContext
from selfiam.service.operations.assume_role import (
    NewSession,
    check_session_size,
    issue_session,
    role_for,
    session_params,
)
from selfiam.service.operations.saml_providers import find_provider, saml_provider_arn
from selfiam.service.registry import operation
from selfiam.service.saml.claims import Claims, condition_keys, name_qualifier, read_claims
from selfiam.service.saml.metadata import cached_metadata
from selfiam.service.saml.response import VerifiedAssertion, verify_response
from selfiam.service.trust_principals import trust_to_evaluate
from selfiam.store import tables as t
from selfiam.store.locks import lock_row

AWS_AUDIENCE = "https://signin.aws.amazon.com/saml"
#: AWS's own service-provider entity id, the Audience most IdPs' AWS apps send.
AWS_SP_ENTITY = "urn:amazon:webservices"
NO_PROVIDER = "Specified provider doesn't exist."
WRONG_AUDIENCE = "Response does not contain the required audience."
WRONG_ISSUER = "Issuer not present in specified provider"
REPLAYED = "SAML assertion has already been used"  # selfiam's wording
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithSAML"


@dataclass(frozen=True, slots=True)
class SamlSignIn:
    """A verified assertion of one provider, read for one account."""

    account_id: str
    provider: Row[Any]
    provider_arn: str
    assertion: VerifiedAssertion
    claims: Claims
    audience: str


def accepted_audiences(ctx: OperationContext) -> frozenset[str]:
    configured = ctx.runtime.saml_audience
    accepted = {AWS_AUDIENCE, AWS_SP_ENTITY}
    return frozenset({*accepted, configured} if configured else accepted)


def verify_sign_in(
    ctx: OperationContext, account_id: str, provider_arn: str, encoded: str
) -> SamlSignIn:
    """Verify ``encoded`` against the provider ``provider_arn`` names in ``account_id``
    (nothing written)."""
    try:
        provider = find_provider(ctx.conn, account_id, provider_arn, with_document=False)
    except AwsError:
        provider = None
    if provider is None or provider.valid_until <= ctx.info.now:
        raise InvalidIdentityToken(NO_PROVIDER)
    sp = t.saml_providers
    provider_id = provider.provider_id
    idp = cached_metadata(
        provider.metadata_sha256,
        lambda: str(
            ctx.conn.execute(
                select(sp.c.metadata_document).where(sp.c.provider_id == provider_id)
            ).scalar_one()
        ),
    )
    assertion = verify_response(encoded, idp.certificates, ctx.info.now)
    if assertion.issuer != idp.entity_id:
        raise InvalidIdentityToken(WRONG_ISSUER)
    accepted = accepted_audiences(ctx)
    audiences = [a for a in assertion.audiences if a in accepted]
    if not audiences:
        raise InvalidIdentityToken(WRONG_AUDIENCE)
    if any(r not in accepted for r in assertion.recipients):
        raise InvalidIdentityToken(WRONG_AUDIENCE)
    claims = read_claims(assertion)
    audience = assertion.recipients[0] if assertion.recipients else audiences[0]
    arn = saml_provider_arn(account_id, provider.name)
    return SamlSignIn(account_id, provider, arn, assertion, claims, audience)


def _claim_once(ctx: OperationContext, sign_in: SamlSignIn, now: datetime) -> None:
    """Record the assertion as redeemed; InvalidIdentityToken if it already was (by any
    process: the primary key decides, and a concurrent insert waits for the first)."""
    assertion = sign_in.assertion
    used = t.saml_assertions_used
    ctx.conn.execute(used.delete().where(used.c.expires_at <= now))
    digest = hashlib.sha256(f"{assertion.issuer}\n{assertion.assertion_id}".encode()).hexdigest()
    insert = pg_insert if ctx.conn.dialect.name == "postgresql" else sqlite_insert
    result = ctx.conn.execute(
        insert(used)
        .values(digest=digest, account_id=sign_in.account_id, expires_at=assertion.redeemable_until)
        .on_conflict_do_nothing(index_elements=["digest"])
        .returning(used.c.digest)
    )
    if result.first() is None:  # (rowcount is -1 with psycopg here: ask for the row)
        raise InvalidIdentityToken(REPLAYED)


def _denial(provider_arn: str, action: str, resource: str) -> str:
    return f"User: {provider_arn} is not authorized to perform: {action} on resource: {resource}"


def assume_role_with_saml_as(
    ctx: OperationContext,
    sign_in: SamlSignIn,
    requested_role_arn: str,
    *,
    duration: int,
    session_policy: str | None = None,
    policy_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """Authorize and issue the session ``sign_in`` asks for (the API's and the portal's)."""
    claims = sign_in.claims
    account = sign_in.account_id
    federated = sign_in.provider_arn
    if (requested_role_arn, federated) not in claims.role_pairs:
        raise AccessDenied(NOT_AUTHORIZED)
    # The provider is locked until the session is stored (a concurrent delete waits).
    sp = t.saml_providers
    if not lock_row(ctx.conn, sp, sp.c.provider_id, sign_in.provider.provider_id):
        raise InvalidIdentityToken(NO_PROVIDER)
    found = role_for(ctx.conn, account, requested_role_arn)
    if found is None:
        ctx.federated_principal = (account, federated)
        action = "sts:AssumeRoleWithSAML"
        ctx.refuse(requested_role_arn, message=_denial(federated, action, requested_role_arn))
    role, role_tags = found
    resource = role_arn(account, role.name, role.path)
    extra = condition_keys(sign_in.assertion, sign_in.audience, account, sign_in.provider.name)
    extra.update(resource_tag_context(resource, role_tags))
    if claims.source_identity is not None:
        extra["sts:SourceIdentity"] = claims.source_identity
    if claims.transitive_keys:
        extra["sts:TransitiveTagKeys"] = claims.transitive_keys
    tags = claims.session_tags
    if tags:
        extra.update(request_tag_context(tags))
    trust = compiled_policy(trust_to_evaluate(ctx.conn, role), PolicyKind.TRUST, resource)
    # Passing session tags is its own permission, granted by the trust policy too.
    actions = ["sts:AssumeRoleWithSAML"]
    if tags:
        actions.append("sts:TagSession")
    if claims.source_identity is not None:
        actions.append("sts:SetSourceIdentity")
    for action in actions:
        ctx.authorize_federated(
            resource,
            action=action,
            principal_arn=federated,
            account_id=account,
            trust=trust,
            context=extra,
            denial=None,
        )
    now = ctx.info.now
    if sign_in.assertion.session_not_on_or_after is not None:
        # AWS: the session lasts DurationSeconds or until SessionNotOnOrAfter, if sooner.
        left = int((sign_in.assertion.session_not_on_or_after - now).total_seconds())
        if left < 1:
            raise AccessDenied(NOT_AUTHORIZED)
        duration = min(duration, left)
    packed = check_session_size(role, duration, session_policy, policy_arns, tags)
    _claim_once(ctx, sign_in, now)
    out = issue_session(
        ctx,
        role,
        NewSession(
            session_name=claims.session_name,
            duration=duration,
            saml_provider_id=sign_in.provider.provider_id,
            source_identity=claims.source_identity,
            session_policy=session_policy,
            policy_arns=list(policy_arns),
            session_tags=dict(tags),
            transitive=list(claims.transitive_keys),
            packed=packed,
        ),
    )
    assertion = sign_in.assertion
    out.update(
        Subject=assertion.subject,
        SubjectType=assertion.subject_type,
        Issuer=assertion.issuer,
        Audience=sign_in.audience,
        NameQualifier=name_qualifier(assertion.issuer, account, sign_in.provider.name),
    )
    return out


@operation("AssumeRoleWithSAML", service="sts")
def assume_role_with_saml(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    asked = session_params(params)
    role = str(params["RoleArn"])
    account = arn_account(role) or ""
    sign_in = verify_sign_in(
        ctx, account, str(params["PrincipalArn"]), str(params["SAMLAssertion"])
    )
    return assume_role_with_saml_as(
        ctx,
        sign_in,
        role,
        duration=asked.duration,
        session_policy=asked.session_policy,
        policy_arns=asked.policy_arns,
    )
