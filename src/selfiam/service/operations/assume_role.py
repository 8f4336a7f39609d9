"""STS AssumeRole: temporary credentials of a role, for a caller its trust policy admits.

The decision is AWS's for one account ("Policy evaluation for requests within a single
account"): the role's trust policy is evaluated as the role's resource-based policy
together with the caller's own policies. A trust policy naming the caller's user ARN
(or its assumed-role session ARN) grants by itself; one naming the account
(``arn:aws:iam::ACCOUNT:root`` or the bare account id) delegates to the caller's
identity-based policies, which must then allow ``sts:AssumeRole`` on the role; one
naming a role ARN admits that role's sessions within their boundary and session
policies. A role that does not exist is AccessDenied, as in AWS (existence is not
revealed).

Limits (AssumeRole's DurationSeconds): 900 seconds at least (the model's minimum),
the role's MaxSessionDuration at most, and one hour when a role session assumes a
role ("role chaining"). Sessions are stored server-side (``role_sessions``) so that
deleting the role, or the user who started the chain, ends them.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.engine import Connection

from selfiam.domain.arns import ArnError, assumed_role_arn, parse_iam_arn, role_arn
from selfiam.domain.errors import (
    AccessDenied,
    InvalidClientTokenId,
    PackedPolicyTooLarge,
    ValidationError,
)
from selfiam.policy import PolicyKind, policy_size
from selfiam.service.authn import INVALID_TOKEN
from selfiam.service.compiled import compiled_policy
from selfiam.service.context import OperationContext
from selfiam.service.lookup import keep_role_with_tags
from selfiam.service.mfa_checks import MfaRefused, check_totp
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.policy_common import validate_document
from selfiam.service.operations.sts import (
    INVALID_PASS_CODE,
    UNKNOWN_DEVICE,
    new_credentials,
)
from selfiam.service.registry import operation
from selfiam.service.trust_principals import trust_to_evaluate
from selfiam.store import tables as t
from selfiam.store.locks import keep_row
from selfiam.store.prepared import PreparedWrite

DEFAULT_DURATION = 3600
CHAINED_MAX_DURATION = 3600
ROOT_REFUSED = "Roles may not be assumed by root accounts."
OVER_MAX_DURATION = (
    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
)
OVER_CHAIN_LIMIT = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
    "role chaining."
)
#: What PackedPolicySize is a percentage of: session policies (characters other than
#: white space, plus the managed policies' ARNs) and session tags. AWS packs them in a
#: binary form of its own; selfiam counts characters, so the figure is an approximation.
PACKED_ALLOWANCE = 2048
_INSERT_SESSION = PreparedWrite(t.role_sessions.insert())
#: RoleLastUsed (the role's row is there: ``role_for`` kept it)
_ROLE_USED = PreparedWrite(
    t.roles.update()
    .where(t.roles.c.role_id == bindparam("id"))
    .values(last_used_at=bindparam("at"), last_used_region=bindparam("region"))
)
#: How often RoleLastUsed is written at most, per role and region (AWS's own reporting
#: of it lags by hours).
ROLE_USE_GRANULARITY = timedelta(minutes=1)
#: One AssumeRole in this many prunes the role's expired sessions.
PRUNE_ONE_IN = 16


def _use_to_record(role: Row[Any], now: datetime, region: str) -> bool:
    """Whether this use of ``role`` changes its RoleLastUsed as reported (a new region, or
    the last one recorded ``ROLE_USE_GRANULARITY`` ago or more)."""
    last = role.last_used_at
    return (
        last is None
        or role.last_used_region != region
        or not timedelta(0) <= now - last < ROLE_USE_GRANULARITY
    )


def role_for(conn: Connection, account_id: str, arn: str) -> tuple[Any, dict[str, str]] | None:
    """The role ``arn`` names in ``account_id`` (its path included) and its tags (the
    trust policy's aws:ResourceTag), read in one query that keeps the role's row until
    the transaction ends (``issue_session`` relies on it); or None."""
    try:
        parsed = parse_iam_arn(arn)
    except ArnError:
        return None
    if parsed.resource_type != "role" or parsed.account != account_id:
        return None
    found = keep_role_with_tags(conn, account_id, parsed.name)
    if found is None or found[0].path != parsed.path or found[0].name != parsed.name:
        return None
    return found


def _mfa_context(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, str]:
    """Check SerialNumber + TokenCode if given (the caller's own device, a code used
    once) and return the MFA facts they add to the request context."""
    serial, code = params.get("SerialNumber"), params.get("TokenCode")
    if serial is None and code is None:
        return {}
    if serial is None:
        raise ValidationError("TokenCode requires SerialNumber: the MFA device it comes from.")
    if code is None:
        raise AccessDenied(INVALID_PASS_CODE)
    owner = ctx.caller.user_id or ctx.caller.origin_user_id
    if owner is None:  # a federated session: no IAM user, so no MFA device of its own
        raise AccessDenied(UNKNOWN_DEVICE)
    try:
        check_totp(ctx, ctx.runtime.box, owner, str(serial), str(code), ctx.info.now)
    except MfaRefused as refused:
        raise AccessDenied(UNKNOWN_DEVICE if refused.unknown else INVALID_PASS_CODE) from None
    return {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "0"}


def _parent_transitive_tags(ctx: OperationContext) -> dict[str, str]:
    """The transitive session tags of the calling role session (they pass down a chain)."""
    if not ctx.caller.is_role_session or ctx.caller.access_key_id is None:
        return {}
    rs = t.role_sessions
    row = ctx.conn.execute(
        select(rs.c.session_tags, rs.c.transitive_tag_keys).where(
            rs.c.access_key_id == ctx.caller.access_key_id
        )
    ).first()
    if row is None or not row.transitive_tag_keys:
        return {}
    tags: dict[str, str] = json.loads(row.session_tags or "{}")
    keys = {k.lower() for k in json.loads(row.transitive_tag_keys)}
    return {k: v for k, v in tags.items() if k.lower() in keys}


def _session_tags(
    ctx: OperationContext, params: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(tags of this request, all session tags, transitive keys) with the calling
    session's transitive tags inherited; a request may not restate one of them."""
    requested = tagging.request_tags(params.get("Tags"))
    transitive = [str(k) for k in params.get("TransitiveTagKeys") or ()]
    lowered = {k.lower() for k in requested}
    for key in transitive:
        if key.lower() not in lowered:
            raise ValidationError(
                f"Transitive tag key {key} is not among the session tags of the request."
            )
    inherited = _parent_transitive_tags(ctx)
    for key in inherited:
        if key.lower() in lowered:
            raise ValidationError(
                f"Session tag {key} was set transitively by the calling session and "
                "cannot be overridden."
            )
    return requested, {**inherited, **requested}, [*inherited, *transitive]


def _source_identity(ctx: OperationContext, params: Mapping[str, Any]) -> str | None:
    """SourceIdentity is set once per chain: a role session passes its own down."""
    given = params.get("SourceIdentity")
    inherited = ctx.caller.source_identity
    if inherited is not None and given is not None and str(given) != inherited:
        raise ValidationError("The source identity of a role session cannot be changed.")
    return inherited if inherited is not None else (str(given) if given is not None else None)


def packed_size(policy: str | None, arns: Sequence[str], tags: Mapping[str, str]) -> int:
    chars = (policy_size(policy) if policy else 0) + sum(len(a) for a in arns)
    chars += sum(len(k) + len(v) for k, v in tags.items())
    return math.ceil(100 * chars / PACKED_ALLOWANCE)


@operation("AssumeRole", service="sts", light=True)
def assume_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    caller = ctx.caller
    if caller.is_root:
        raise AccessDenied(ROOT_REFUSED)
    arn = str(params["RoleArn"])
    session_name = str(params["RoleSessionName"])
    asked = session_params(params)
    requested_tags, session_tags, transitive = _session_tags(ctx, params)
    source_identity = _source_identity(ctx, params)

    found = role_for(ctx.conn, ctx.account_id, arn)
    if found is None:
        ctx.refuse(arn)
    role, role_tags = found  # the tags are aws:ResourceTag and iam:ResourceTag
    resource = role_arn(ctx.account_id, role.name, role.path)
    extra: dict[str, str | Sequence[str]] = {"sts:RoleSessionName": session_name}
    if params.get("ExternalId") is not None:
        extra["sts:ExternalId"] = str(params["ExternalId"])
    if source_identity is not None:
        extra["sts:SourceIdentity"] = source_identity
    if transitive:
        extra["sts:TransitiveTagKeys"] = transitive
    extra.update(_mfa_context(ctx, params))
    code_checked = "aws:MultiFactorAuthPresent" in extra
    mfa_at = ctx.info.now if code_checked else None
    trust = compiled_policy(trust_to_evaluate(ctx.conn, role), PolicyKind.TRUST, resource)
    ctx.authorize(
        resource,
        resource_tags=role_tags,
        request_tags=requested_tags or None,
        extra_context=extra,
        resource_policy=trust,
    )
    if requested_tags:
        # Passing session tags is its own permission, granted by the trust policy.
        ctx.authorize(
            resource,
            action="sts:TagSession",
            resource_tags=role_tags,
            request_tags=requested_tags,
            extra_context=extra,
            resource_policy=trust,
        )
    if source_identity is not None:
        # AWS: a source identity, given or carried down a chain, needs
        # sts:SetSourceIdentity, which the role's trust policy must allow too.
        ctx.authorize(
            resource,
            action="sts:SetSourceIdentity",
            resource_tags=role_tags,
            request_tags=requested_tags or None,
            extra_context=extra,
            resource_policy=trust,
        )
    if caller.is_role_session and asked.duration > CHAINED_MAX_DURATION:
        raise ValidationError(OVER_CHAIN_LIMIT)
    packed = check_session_size(
        role, asked.duration, asked.session_policy, asked.policy_arns, session_tags
    )
    origin = caller.user_id or caller.origin_user_id
    oidc_provider, saml_provider = _parent_providers(ctx)
    if caller.mfa_authenticated_at is not None and mfa_at is None:
        mfa_at = caller.mfa_authenticated_at  # the MFA of the credentials that called
    return issue_session(
        ctx,
        role,
        NewSession(
            session_name=session_name,
            duration=asked.duration,
            user_id=origin,
            oidc_provider_id=oidc_provider,
            saml_provider_id=saml_provider,
            issuer_access_key_id=caller.access_key_id,
            chained=caller.is_role_session,
            source_identity=source_identity,
            mfa_at=mfa_at,
            mfa_serial_number=str(params["SerialNumber"]) if code_checked else None,
            session_policy=asked.session_policy,
            policy_arns=asked.policy_arns,
            session_tags=session_tags,
            transitive=transitive,
            packed=packed,
        ),
    )


def _parent_providers(ctx: OperationContext) -> tuple[str | None, str | None]:
    """The OpenID Connect and SAML providers the calling role session hangs on (a chain
    started with a web identity or a SAML response), so that the new session ends with
    them too."""
    if not ctx.caller.is_role_session or ctx.caller.access_key_id is None:
        return None, None
    rs = t.role_sessions
    row = ctx.conn.execute(
        select(rs.c.oidc_provider_id, rs.c.saml_provider_id).where(
            rs.c.access_key_id == ctx.caller.access_key_id
        )
    ).first()
    return (None, None) if row is None else (row.oidc_provider_id, row.saml_provider_id)


def check_session_size(
    role: Row[Any],
    duration: int,
    session_policy: Any,
    policy_arns: Sequence[str],
    session_tags: Mapping[str, str],
) -> int | None:
    """DurationSeconds within the role's MaxSessionDuration, and the session policies and
    tags within the packed allowance; the PackedPolicySize to answer (None: nothing packed)."""
    if duration > role.max_session_duration:
        raise ValidationError(OVER_MAX_DURATION)
    if session_policy is None and not policy_arns and not session_tags:
        return None
    packed = packed_size(session_policy, policy_arns, session_tags)
    if packed > 100:
        raise PackedPolicyTooLarge(
            f"Packed policy consumes {packed}% of allotted space, please use smaller policy."
        )
    return packed


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSession:
    """What a role session is started with (AssumeRole and its federated siblings; the
    defaults are those of a session a web identity or a SAML response starts)."""

    session_name: str
    duration: int
    source_identity: str | None
    session_policy: str | None
    policy_arns: list[str]
    session_tags: dict[str, str]
    transitive: list[str]
    packed: int | None
    user_id: str | None = None  # the IAM user who started the chain, if one did
    oidc_provider_id: str | None = None  # the provider whose token started it, if one did
    saml_provider_id: str | None = None  # the provider whose response started it, if one did
    issuer_access_key_id: str | None = None
    chained: bool = False
    mfa_at: datetime | None = None
    mfa_serial_number: str | None = None


@dataclass(frozen=True, slots=True)
class SessionParams:
    """The parameters AssumeRole, AssumeRoleWithWebIdentity and AssumeRoleWithSAML share."""

    duration: int
    session_policy: str | None
    policy_arns: list[str]


def session_params(params: Mapping[str, Any]) -> SessionParams:
    """DurationSeconds (or the default), Policy (validated as a session policy) and
    PolicyArns of an AssumeRole* request."""
    session_policy = params.get("Policy")
    if session_policy is not None:
        validate_document(str(session_policy), PolicyKind.SESSION)
    return SessionParams(
        duration=int(params.get("DurationSeconds") or DEFAULT_DURATION),
        session_policy=str(session_policy) if session_policy is not None else None,
        policy_arns=[str(p["arn"]) for p in params.get("PolicyArns") or ()],
    )


def issue_session(ctx: OperationContext, role: Row[Any], new: NewSession) -> dict[str, Any]:
    """Store a role session of ``role`` and answer its credentials (the common part of
    AssumeRole's, AssumeRoleWithWebIdentity's and AssumeRoleWithSAML's answers). The trust
    policy allowed."""
    creds = new_credentials(ctx, new.duration)
    now = creds.created_at
    # The role (kept by ``role_for``) and the user or provider the session will hang on
    # stay until the transaction ends: one deleted since it was read would fail the
    # insert's foreign key (a 500), where AWS would say no. Shared locks (FOR KEY SHARE,
    # as the foreign key's own check): sessions of one role by one user, started at
    # once, do not wait for each other. RoleLastUsed (selfiam counts a role as used when
    # it is assumed) is written once a minute per role and region at most.
    if _use_to_record(role, now, ctx.info.region):
        _ROLE_USED.execute(ctx.conn, {"id": role.role_id, "at": now, "region": ctx.info.region})
    hangs_on = [
        (t.users.c.user_id, new.user_id),
        (t.oidc_providers.c.provider_id, new.oidc_provider_id),
        (t.saml_providers.c.provider_id, new.saml_provider_id),
    ]
    for key, value in hangs_on:
        if value is not None and not keep_row(ctx.conn, key.table, key, value):
            raise InvalidClientTokenId(INVALID_TOKEN)
    rs = t.role_sessions
    if secrets.randbelow(PRUNE_ONE_IN) == 0:
        # This role's expired sessions are of no further use (authentication refuses
        # them): drop them, found by the (role_id, expires_at) index. A statement of its
        # own, so on one call in PRUNE_ONE_IN, not on each.
        ctx.conn.execute(rs.delete().where(rs.c.role_id == role.role_id, rs.c.expires_at <= now))
    # Nothing reads it back in this transaction, and what it hangs on is kept: on
    # PostgreSQL it goes with the COMMIT (store/pg_commit.py), one round trip less.
    _INSERT_SESSION.execute_at_commit(
        ctx.conn,
        dict(
            account_id=role.account_id,
            role_id=role.role_id,
            user_id=new.user_id,
            oidc_provider_id=new.oidc_provider_id,
            saml_provider_id=new.saml_provider_id,
            issuer_access_key_id=new.issuer_access_key_id,
            chained=new.chained,
            session_name=new.session_name,
            source_identity=new.source_identity,
            mfa_authenticated_at=new.mfa_at,
            mfa_serial_number=new.mfa_serial_number,
            session_policy=new.session_policy,
            session_policy_arns=json.dumps(new.policy_arns) if new.policy_arns else None,
            session_tags=json.dumps(new.session_tags) if new.session_tags else None,
            transitive_tag_keys=json.dumps(new.transitive) if new.transitive else None,
            **creds.stored(ctx.runtime.box),
        ),
    )
    out: dict[str, Any] = {
        "Credentials": creds.answer(),
        "AssumedRoleUser": {
            "AssumedRoleId": f"{role.role_id}:{new.session_name}",
            "Arn": assumed_role_arn(role.account_id, role.name, new.session_name),
        },
    }
    if new.packed is not None:
        out["PackedPolicySize"] = new.packed
    if new.source_identity is not None:
        out["SourceIdentity"] = new.source_identity
    return out
