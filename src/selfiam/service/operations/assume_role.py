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
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from selfiam.domain.arns import ArnError, assumed_role_arn, parse_iam_arn, role_arn
from selfiam.domain.errors import (
    AccessDenied,
    InvalidClientTokenId,
    PackedPolicyTooLarge,
    ValidationError,
)
from selfiam.domain.identifiers import (
    new_secret_access_key,
    new_session_token,
    new_temporary_access_key_id,
)
from selfiam.policy import PolicyKind, policy_size
from selfiam.service.authn import INVALID_TOKEN
from selfiam.service.compiled import compiled_policy
from selfiam.service.context import OperationContext
from selfiam.service.lookup import find_role
from selfiam.service.mfa_checks import MfaRefused, check_totp
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.policy_common import validate_document
from selfiam.service.operations.sts import (
    INVALID_PASS_CODE,
    UNKNOWN_DEVICE,
    session_token_digest,
)
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_user_row

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
_INSERT_SESSION = t.role_sessions.insert()
#: One AssumeRole in this many prunes the role's expired sessions.
PRUNE_ONE_IN = 16


def _role_for(ctx: OperationContext, arn: str) -> Any | None:
    """The role ``arn`` names in the caller's account (its path included), or None."""
    try:
        parsed = parse_iam_arn(arn)
    except ArnError:
        return None
    if parsed.resource_type != "role" or parsed.account != ctx.account_id:
        return None
    row = find_role(ctx.conn, ctx.account_id, parsed.name)
    if row is None or row.path != parsed.path or row.name != parsed.name:
        return None
    return row


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
    assert owner is not None
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


def _packed_size(policy: str | None, arns: Sequence[str], tags: Mapping[str, str]) -> int:
    chars = (policy_size(policy) if policy else 0) + sum(len(a) for a in arns)
    chars += sum(len(k) + len(v) for k, v in tags.items())
    return math.ceil(100 * chars / PACKED_ALLOWANCE)


@operation("AssumeRole", service="sts")
def assume_role(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    caller = ctx.caller
    if caller.is_root:
        raise AccessDenied(ROOT_REFUSED)
    arn = str(params["RoleArn"])
    session_name = str(params["RoleSessionName"])
    duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
    session_policy = params.get("Policy")
    policy_arns = [str(p["arn"]) for p in params.get("PolicyArns") or ()]
    if session_policy is not None:
        validate_document(str(session_policy), PolicyKind.SESSION)
    requested_tags, session_tags, transitive = _session_tags(ctx, params)
    source_identity = _source_identity(ctx, params)

    role = _role_for(ctx, arn)
    if role is None:
        ctx.refuse(arn)
    resource = role_arn(ctx.account_id, role.name, role.path)
    extra: dict[str, str | Sequence[str]] = {"sts:RoleSessionName": session_name}
    if params.get("ExternalId") is not None:
        extra["sts:ExternalId"] = str(params["ExternalId"])
    if source_identity is not None:
        extra["sts:SourceIdentity"] = source_identity
    if transitive:
        extra["sts:TransitiveTagKeys"] = transitive
    extra.update(_mfa_context(ctx, params))
    mfa_at = ctx.info.now if "aws:MultiFactorAuthPresent" in extra else None
    trust = compiled_policy(role.assume_role_policy_document, PolicyKind.TRUST, resource)
    ctx.authorize(
        resource,
        request_tags=requested_tags or None,
        extra_context=extra,
        resource_policy=trust,
    )
    if requested_tags:
        # Passing session tags is its own permission, granted by the trust policy.
        ctx.authorize(
            resource,
            action="sts:TagSession",
            request_tags=requested_tags,
            extra_context=extra,
            resource_policy=trust,
        )
    if caller.is_role_session and duration > CHAINED_MAX_DURATION:
        raise ValidationError(OVER_CHAIN_LIMIT)
    if duration > role.max_session_duration:
        raise ValidationError(OVER_MAX_DURATION)
    packed = None
    if session_policy is not None or policy_arns or session_tags:
        packed = _packed_size(session_policy, policy_arns, session_tags)
        if packed > 100:
            raise PackedPolicyTooLarge(
                f"Packed policy consumes {packed}% of allotted space, please use smaller policy."
            )

    now = ctx.info.now
    expires = now + timedelta(seconds=duration)
    key_id = new_temporary_access_key_id()
    secret = new_secret_access_key()
    token = new_session_token()
    origin = caller.user_id or caller.origin_user_id
    assert origin is not None
    # Lock the role and the user the session will hang on: one deleted since it was read
    # would fail the insert's foreign key (a 500), where AWS would say no. Recording the
    # role's last use (RoleLastUsed: selfiam counts a role as used when it is assumed)
    # locks the role's row, and finds none if it is gone.
    used = ctx.conn.execute(
        t.roles.update()
        .where(t.roles.c.role_id == role.role_id)
        .values(last_used_at=now, last_used_region=ctx.info.region)
    )
    if used.rowcount != 1:
        ctx.refuse(arn)
    if not lock_user_row(ctx.conn, origin):
        raise InvalidClientTokenId(INVALID_TOKEN)
    rs = t.role_sessions
    if secrets.randbelow(PRUNE_ONE_IN) == 0:
        # This role's expired sessions are of no further use (authentication refuses
        # them): drop them. Finding them walks every session of the role (there is no
        # index on expires_at), so it is done on one call in PRUNE_ONE_IN, not on each.
        ctx.conn.execute(rs.delete().where(rs.c.role_id == role.role_id, rs.c.expires_at <= now))
    if caller.mfa_authenticated_at is not None and mfa_at is None:
        mfa_at = caller.mfa_authenticated_at  # the MFA of the credentials that called
    ctx.conn.execute(  # parameters bound at execution: the compiled INSERT is reused
        _INSERT_SESSION,
        dict(
            access_key_id=key_id,
            account_id=ctx.account_id,
            role_id=role.role_id,
            user_id=origin,
            issuer_access_key_id=caller.access_key_id,
            chained=caller.is_role_session,
            session_name=session_name,
            source_identity=source_identity,
            secret_ciphertext=ctx.runtime.box.seal(secret.encode(), key_id.encode()),
            session_token_sha256=session_token_digest(token),
            mfa_authenticated_at=mfa_at,
            mfa_serial_number=str(params["SerialNumber"]) if mfa_at == now else None,
            session_policy=str(session_policy) if session_policy is not None else None,
            session_policy_arns=json.dumps(policy_arns) if policy_arns else None,
            session_tags=json.dumps(session_tags) if session_tags else None,
            transitive_tag_keys=json.dumps(transitive) if transitive else None,
            created_at=now,
            expires_at=expires,
        ),
    )
    out: dict[str, Any] = {
        "Credentials": {
            "AccessKeyId": key_id,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": expires,
        },
        "AssumedRoleUser": {
            "AssumedRoleId": f"{role.role_id}:{session_name}",
            "Arn": assumed_role_arn(ctx.account_id, role.name, session_name),
        },
    }
    if packed is not None:
        out["PackedPolicySize"] = packed
    if source_identity is not None:
        out["SourceIdentity"] = source_identity
    return out
