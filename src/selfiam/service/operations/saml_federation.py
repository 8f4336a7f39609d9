"""STS AssumeRoleWithSAML: a role session for a user an IdP vouches for.

The request is unsigned (``api/unsigned.py``): the SAML response is the credential.
In order: the provider named by PrincipalArn must exist in the account; the
response must carry an assertion signed by one of the provider's metadata
certificates, issued by the provider's entity, addressed to an accepted audience,
within its validity, and never redeemed before (``saml_assertions_used``, shared
by every process); its Role attribute must hold the requested (role, provider)
pair; the role's trust policy must allow ``sts:AssumeRoleWithSAML`` (and
``sts:TagSession`` for session tags) by the provider as a Federated principal,
with the assertion's ``saml:*`` keys in the context. The session is issued by
AssumeRole's ``issue_role_session``.

Accepted audiences (Audience, and SubjectConfirmationData's Recipient when given):
``https://signin.aws.amazon.com/saml`` and ``urn:amazon:webservices`` (what IdPs set up
for AWS send) and the one the operator configured (``SELFIAM_SAML_AUDIENCE``, e.g. the
portal's ``https://iam.example.com/portal/saml``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from selfiam.domain.arns import role_arn
from selfiam.domain.errors import (
    AccessDenied,
    AwsError,
    InvalidIdentityToken,
)
from selfiam.policy import PolicyKind
from selfiam.service.compiled import compiled_policy
from selfiam.service.context import OperationContext
from selfiam.service.operations.assume_role import (
    DEFAULT_DURATION,
    _role_for,
    check_session_limits,
    issue_role_session,
)
from selfiam.service.operations.policy_common import validate_document
from selfiam.service.operations.saml_providers import find_provider, saml_provider_arn
from selfiam.service.registry import operation
from selfiam.service.saml.claims import Claims, condition_keys, name_qualifier, read_claims
from selfiam.service.saml.metadata import cached_metadata
from selfiam.service.saml.response import VerifiedAssertion, verify_response
from selfiam.store import tables as t

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

    provider: Row[Any]
    provider_arn: str
    assertion: VerifiedAssertion
    claims: Claims
    audience: str


def accepted_audiences(ctx: OperationContext) -> frozenset[str]:
    configured = ctx.runtime.saml_audience
    accepted = {AWS_AUDIENCE, AWS_SP_ENTITY}
    return frozenset({*accepted, configured} if configured else accepted)


def verify_sign_in(ctx: OperationContext, provider_arn: str, encoded: str) -> SamlSignIn:
    """Verify ``encoded`` against the provider ``provider_arn`` names (nothing written)."""
    try:
        provider = find_provider(ctx, provider_arn, with_document=False)
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
    return SamlSignIn(
        provider, saml_provider_arn(ctx.account_id, provider.name), assertion, claims, audience
    )


def _claim_once(ctx: OperationContext, assertion: VerifiedAssertion, now: datetime) -> None:
    """Record the assertion as redeemed; InvalidIdentityToken if it already was (by any
    process: the primary key decides, and a concurrent insert waits for the first)."""
    used = t.saml_assertions_used
    ctx.conn.execute(used.delete().where(used.c.expires_at <= now))
    digest = hashlib.sha256(f"{assertion.issuer}\n{assertion.assertion_id}".encode()).hexdigest()
    insert = pg_insert if ctx.conn.dialect.name == "postgresql" else sqlite_insert
    result = ctx.conn.execute(
        insert(used)
        .values(digest=digest, account_id=ctx.account_id, expires_at=assertion.redeemable_until)
        .on_conflict_do_nothing(index_elements=["digest"])
        .returning(used.c.digest)
    )
    if result.first() is None:  # (rowcount is -1 with psycopg here: ask for the row)
        raise InvalidIdentityToken(REPLAYED)


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
    if (requested_role_arn, sign_in.provider_arn) not in claims.role_pairs:
        raise AccessDenied(NOT_AUTHORIZED)
    role = _role_for(ctx, requested_role_arn)
    # From here the caller is the provider, as the trust policy names it.
    ctx.caller = replace(ctx.caller, arn=sign_in.provider_arn)
    if role is None:
        ctx.refuse(requested_role_arn)
    resource = role_arn(ctx.account_id, role.name, role.path)
    extra = condition_keys(
        sign_in.assertion, sign_in.audience, ctx.account_id, sign_in.provider.name
    )
    if claims.source_identity is not None:
        extra["sts:SourceIdentity"] = claims.source_identity
    if claims.transitive_keys:
        extra["sts:TransitiveTagKeys"] = claims.transitive_keys
    tags = claims.session_tags
    trust = compiled_policy(role.assume_role_policy_document, PolicyKind.TRUST, resource)
    ctx.authorize(resource, request_tags=tags or None, extra_context=extra, resource_policy=trust)
    if tags:
        ctx.authorize(
            resource,
            action="sts:TagSession",
            request_tags=tags,
            extra_context=extra,
            resource_policy=trust,
        )
    now = ctx.info.now
    if sign_in.assertion.session_not_on_or_after is not None:
        # AWS: the session lasts DurationSeconds or until SessionNotOnOrAfter, if sooner.
        left = int((sign_in.assertion.session_not_on_or_after - now).total_seconds())
        if left < 1:
            raise AccessDenied(NOT_AUTHORIZED)
        duration = min(duration, left)
    packed = check_session_limits(role, duration, session_policy, policy_arns, tags)
    _claim_once(ctx, sign_in.assertion, now)
    out = issue_role_session(
        ctx,
        role,
        session_name=claims.session_name,
        duration=duration,
        origin_user_id=None,
        source_identity=claims.source_identity,
        session_policy=session_policy,
        policy_arns=policy_arns,
        session_tags=tags,
        transitive=claims.transitive_keys,
    )
    assertion = sign_in.assertion
    out.update(
        Subject=assertion.subject,
        SubjectType=assertion.subject_type,
        Issuer=assertion.issuer,
        Audience=sign_in.audience,
        NameQualifier=name_qualifier(assertion.issuer, ctx.account_id, sign_in.provider.name),
    )
    if packed is not None:
        out["PackedPolicySize"] = packed
    if claims.source_identity is not None:
        out["SourceIdentity"] = claims.source_identity
    return out


@operation("AssumeRoleWithSAML", service="sts")
def assume_role_with_saml(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    session_policy = params.get("Policy")
    if session_policy is not None:
        validate_document(str(session_policy), PolicyKind.SESSION)
    policy_arns = [str(p["arn"]) for p in params.get("PolicyArns") or ()]
    duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
    sign_in = verify_sign_in(ctx, str(params["PrincipalArn"]), str(params["SAMLAssertion"]))
    return assume_role_with_saml_as(
        ctx,
        sign_in,
        str(params["RoleArn"]),
        duration=duration,
        session_policy=str(session_policy) if session_policy is not None else None,
        policy_arns=policy_arns,
    )
