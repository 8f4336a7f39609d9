"""Signing in to the portal with a SAML response (IdP-initiated, as AWS's console).

An IdP posts the base64 ``samlp:Response`` to ``/portal/saml``. ``saml_choices``
verifies it exactly as AssumeRoleWithSAML does (``verify_sign_in``: the provider is
the account's one whose entity id is the response's issuer; only signed content is
read) and answers the (role, provider) pairs of its Role attribute, writing nothing.
``start_console_session`` then runs sts:AssumeRoleWithSAML through ``Runtime.invoke``
(the one authorization path: trust policy, replay, audit) for the chosen role, for the
``SessionDuration`` attribute's time (an hour if absent) capped by the role's
MaxSessionDuration, and stores a portal session wearing that role session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from selfiam.domain.arns import ArnError, parse_iam_arn
from selfiam.domain.errors import InvalidIdentityToken
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.context import OperationContext
from selfiam.service.factory import account_of
from selfiam.service.operations.saml_federation import NO_PROVIDER, verify_sign_in
from selfiam.service.operations.saml_providers import saml_provider_arn
from selfiam.service.role_sessions import load_role_session
from selfiam.service.saml.response import unverified_issuer
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction, transaction

if TYPE_CHECKING:
    from selfiam.service.runtime import Runtime

DEFAULT_DURATION = 3600
_ps = t.saml_portal_sessions


@dataclass(frozen=True, slots=True)
class SamlChoices:
    provider_arn: str
    roles: tuple[str, ...]  # the role ARNs the Role attribute offers with this provider
    session_duration: int | None


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    session_id: str
    caller: Caller
    expires_at: datetime


def _account(runtime: Runtime) -> str:
    """The account the portal serves (no provider to sign in with before ``selfiam init``)."""
    account = account_of(runtime)
    if account is None:
        raise InvalidIdentityToken(NO_PROVIDER)
    return account


def saml_choices(runtime: Runtime, encoded: str, info: RequestInfo) -> SamlChoices:
    """Verify ``encoded`` and list the roles it offers; InvalidIdentityToken & co. if not.

    The issuer is read unverified only to pick which provider's certificates to try."""
    account = _account(runtime)
    issuer = unverified_issuer(encoded)
    sp = t.saml_providers
    with read_transaction(runtime.engine) as conn:
        name = conn.execute(
            select(sp.c.name)
            .where(sp.c.account_id == account, sp.c.entity_id == issuer[:1024])
            .order_by(sp.c.name_lower)
            .limit(1)
        ).scalar_one_or_none()
        if name is None:
            raise InvalidIdentityToken(NO_PROVIDER)
        ctx = OperationContext(runtime, conn, Caller.unsigned(), info, "sts:AssumeRoleWithSAML")
        sign_in = verify_sign_in(ctx, account, saml_provider_arn(account, name), encoded)
    roles = tuple(
        role for role, provider in sign_in.claims.role_pairs if provider == sign_in.provider_arn
    )
    return SamlChoices(sign_in.provider_arn, roles, sign_in.claims.session_duration)


def _max_duration(runtime: Runtime, account_id: str, role_arn: str) -> int | None:
    try:
        parsed = parse_iam_arn(role_arn)
    except ArnError:
        return None
    r = t.roles
    with read_transaction(runtime.engine) as conn:
        found: int | None = conn.execute(
            select(r.c.max_session_duration).where(
                r.c.account_id == account_id, r.c.name_lower == parsed.name.lower()
            )
        ).scalar_one_or_none()
    return found


def start_console_session(
    runtime: Runtime, encoded: str, choices: SamlChoices, role_arn: str, info: RequestInfo
) -> str:
    """Assume ``role_arn`` with the response (AssumeRoleWithSAML) and open a portal session
    wearing it; the cookie token (shown once)."""
    account = _account(runtime)
    duration = choices.session_duration or DEFAULT_DURATION
    cap = _max_duration(runtime, account, role_arn)
    if cap is not None:
        duration = min(duration, cap)
    params = {
        "RoleArn": role_arn,
        "PrincipalArn": choices.provider_arn,
        "SAMLAssertion": encoded,
        "DurationSeconds": duration,
    }
    answer = runtime.invoke("sts", "AssumeRoleWithSAML", params, Caller.unsigned(), info)
    token = secrets.token_urlsafe(32)
    with transaction(runtime.engine) as conn:
        conn.execute(
            _ps.insert().values(
                session_id=_session_id(token),
                account_id=account,
                access_key_id=answer["Credentials"]["AccessKeyId"],
                created_at=info.now,
                expires_at=answer["Credentials"]["Expiration"],
            )
        )
    return token


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_console_session(runtime: Runtime, token: str, now: datetime) -> ConsoleSession | None:
    """The live SAML portal session behind a cookie token, as the role session's caller."""
    if not token or len(token) > 128:
        return None
    session_id = _session_id(token)
    with read_transaction(runtime.engine) as conn:
        row = conn.execute(select(_ps).where(_ps.c.session_id == session_id)).first()
        if row is None or row.expires_at <= now:
            return None
        loaded = load_role_session(conn, runtime.box, row.access_key_id)
    if loaded is None:
        return None
    return ConsoleSession(session_id, loaded.caller, row.expires_at)


def end_console_session(runtime: Runtime, session_id: str) -> None:
    with transaction(runtime.engine) as conn:
        conn.execute(_ps.delete().where(_ps.c.session_id == session_id))
