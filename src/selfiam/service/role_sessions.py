"""Role sessions as callers: what AssumeRole stored, loaded back for each request's key.

A role session's Caller carries the assumed-role ARN (what AccessDenied messages and
GetCallerIdentity name), the role's ARN (``aws:PrincipalArn``), ``AROA…:SESSION``
(``aws:userid``), the role's tags overlaid by the session's tags (``aws:PrincipalTag/*``),
the time it was issued, its source identity, its MFA facts and its session policies.
Nothing here is cached beyond the credential cache's entry, which the auth version
keeps right (DESIGN rule 7): a deleted role or user takes its sessions with it (FK
cascade), and the next request finds no row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Connection

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.arns import assumed_role_arn, role_arn
from selfiam.policy import Policy, PolicyKind, PolicySet
from selfiam.service.caller import Caller
from selfiam.service.compiled import compiled_policy
from selfiam.service.principals import managed_policy_by_arn
from selfiam.store import tables as t

_rs, _r = t.role_sessions, t.roles
_SESSION = (
    select(_rs, _r.c.name.label("role_name"), _r.c.path.label("role_path"))
    .select_from(_rs.join(_r, _rs.c.role_id == _r.c.role_id))
    .where(_rs.c.access_key_id == bindparam("access_key_id"))
)
_ROLE_TAGS = select(t.tags.c.key, t.tags.c.value).where(
    and_(t.tags.c.resource_type == "role", t.tags.c.resource_id == bindparam("role_id"))
)
#: The policy id session policies are compiled under (shared, so that equal documents
#: share one compiled form in the bounded cache).
SESSION_POLICY_ID = "session-policy"


@dataclass(frozen=True, slots=True)
class LoadedSession:
    caller: Caller
    secret: str
    token_sha256: bytes
    expires_at: datetime


def session_policy_set(
    conn: Connection, document: str | None, policy_arns: list[str]
) -> PolicySet | None:
    """The session policies of a session (None when it was given none): the inline
    document and each managed policy named, as they are now. An ARN that names no
    policy adds nothing, so it narrows the session to the others."""
    if document is None and not policy_arns:
        return None
    policies: list[Policy] = []
    if document is not None:
        policies.append(compiled_policy(document, PolicyKind.SESSION, SESSION_POLICY_ID))
    for arn in policy_arns:
        found = managed_policy_by_arn(conn, arn)
        if found is not None:
            policies.append(found)
    return PolicySet(policies)


def load_role_session(conn: Connection, box: SecretBox, access_key_id: str) -> LoadedSession | None:
    """The role session behind an ASIA… key, or None if there is none (never issued,
    purged, or ended with its role or its user)."""
    row = conn.execute(_SESSION, {"access_key_id": access_key_id}).first()
    if row is None:
        return None
    tags = dict(conn.execute(_ROLE_TAGS, {"role_id": row.role_id}).all())
    session_tags: dict[str, str] = json.loads(row.session_tags) if row.session_tags else {}
    lowered = {k.lower() for k in session_tags}
    merged = {k: v for k, v in tags.items() if k.lower() not in lowered} | session_tags
    policy_arns: list[str] = json.loads(row.session_policy_arns) if row.session_policy_arns else []
    caller = Caller(
        account_id=row.account_id,
        arn=assumed_role_arn(row.account_id, row.role_name, row.session_name),
        access_key_id=access_key_id,
        session_token_id=access_key_id,
        mfa_authenticated_at=row.mfa_authenticated_at,
        principal_tags=tuple(sorted(merged.items(), key=lambda kv: kv[0].lower())),
        role_id=row.role_id,
        role_name=row.role_name,
        role_arn=role_arn(row.account_id, row.role_name, row.role_path),
        session_name=row.session_name,
        source_identity=row.source_identity,
        origin_user_id=row.user_id,
        token_issued_at=row.created_at,
        session_policies=session_policy_set(conn, row.session_policy, policy_arns),
    )
    secret = box.open(row.secret_ciphertext, access_key_id.encode()).decode()
    return LoadedSession(caller, secret, bytes.fromhex(row.session_token_sha256), row.expires_at)
