"""Row factories for tests that work below the service layer (plain inserts)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection

from selfiam.domain import identifiers as ids
from selfiam.service.audit import AuditRecord
from selfiam.store import tables as t

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def add_account(conn: Connection, account_id: str = "123456789012") -> str:
    conn.execute(t.accounts.insert().values(account_id=account_id, created_at=NOW))
    return account_id


def add_user(conn: Connection, account_id: str, name: str, path: str = "/") -> str:
    user_id = ids.new_user_id()
    conn.execute(
        t.users.insert().values(
            user_id=user_id, account_id=account_id, name=name, name_lower=name.lower(),
            path=path, created_at=NOW,
        )
    )
    return user_id


def add_access_key(conn: Connection, user_id: str) -> str:
    key_id = ids.new_access_key_id()
    conn.execute(
        t.access_keys.insert().values(
            access_key_id=key_id, user_id=user_id, secret_ciphertext=b"\x01sealed",
            status="Active", created_at=NOW,
        )
    )
    return key_id


def audit_record(account_id: str, at: datetime, request_id: str) -> AuditRecord:
    """A root's GetUser, allowed, made at ``at`` (for tests of the trail's age)."""
    return AuditRecord(
        at=at,
        request_id=request_id,
        account_id=account_id,
        caller_arn=f"arn:aws:iam::{account_id}:root",
        action="iam:GetUser",
        resource=None,
        decision="allowed",
        error_code=None,
        source_ip="local",
        user_agent="test",
    )
