"""Federated users (GetFederationToken) as callers: what was stored, loaded back per key.

A federated user's Caller carries ``arn:aws:sts::ACCOUNT:federated-user/NAME``, the IAM
user whose policies limit it (``origin_user_id``), its session policies (an empty set
when none was passed: AWS gives such a session no permissions), and as principal tags
the user's tags overlaid by the session's. It ends with the user (FK cascade, auth
version bump), and when it expires.
"""

from __future__ import annotations

import json

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.arns import federated_user_arn
from selfiam.policy import PolicySet
from selfiam.service.caller import Caller
from selfiam.service.principals import load_user_tags
from selfiam.service.role_sessions import LoadedSession, session_policy_set
from selfiam.store import tables as t

_fs = t.federation_sessions
_SESSION = select(_fs).where(_fs.c.access_key_id == bindparam("access_key_id"))


def load_federation_session(
    conn: Connection, box: SecretBox, access_key_id: str
) -> LoadedSession | None:
    """The federated user behind an ASIA… key, or None if there is none."""
    row = conn.execute(_SESSION, {"access_key_id": access_key_id}).first()
    if row is None:
        return None
    session_tags: dict[str, str] = json.loads(row.session_tags) if row.session_tags else {}
    lowered = {k.lower() for k in session_tags}
    user_tags = {k: v for k, v in load_user_tags(conn, row.user_id) if k.lower() not in lowered}
    merged = user_tags | session_tags
    policy_arns: list[str] = json.loads(row.session_policy_arns) if row.session_policy_arns else []
    policies = session_policy_set(conn, row.session_policy, policy_arns) or PolicySet([])
    caller = Caller(
        account_id=row.account_id,
        arn=federated_user_arn(row.account_id, row.name),
        access_key_id=access_key_id,
        session_token_id=access_key_id,
        principal_tags=tuple(sorted(merged.items(), key=lambda kv: kv[0].lower())),
        origin_user_id=row.user_id,
        token_issued_at=row.created_at,
        session_policies=policies,
        federated_name=row.name,
    )
    secret = box.open(row.secret_ciphertext, access_key_id.encode()).decode()
    return LoadedSession(caller, secret, bytes.fromhex(row.session_token_sha256), row.expires_at)
