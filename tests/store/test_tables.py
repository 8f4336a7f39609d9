"""Constraints the database enforces for the service layer (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, create_engine, delete, func, select
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.exc import IntegrityError, StatementError

from selfiam.domain import identifiers as ids
from selfiam.store import tables as t
from selfiam.store.engine import transaction
from selfiam.store.owned import delete_owned
from support.rows import NOW, add_access_key, add_account, add_user

ACCOUNT = "123456789012"


def _count(engine: Engine, table: t.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _policy(account_id: str | None, name: str, path: str = "/") -> dict[str, object]:
    ns = account_id or "aws"
    return {
        "policy_id": ids.new_policy_id(),
        "arn": f"arn:aws:iam::{ns}:policy{path}{name}",
        "account_id": account_id,
        "namespace": ns,
        "name": name,
        "name_lower": name.lower(),
        "path": path,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_user_names_are_unique_ignoring_case(migrated_engine: Engine) -> None:
    with transaction(migrated_engine) as conn:
        add_user(conn, add_account(conn), "Alice")
        add_account(conn, "210987654321")
    with pytest.raises(IntegrityError), transaction(migrated_engine) as conn:
        add_user(conn, ACCOUNT, "ALICE", path="/other/")
    with transaction(migrated_engine) as conn:  # another account may have one
        add_user(conn, "210987654321", "alice")
    assert _count(migrated_engine, t.users) == 2


def test_policy_names_unique_per_namespace(migrated_engine: Engine) -> None:
    with transaction(migrated_engine) as conn:
        add_account(conn)
        conn.execute(t.managed_policies.insert(), [_policy(None, "AdministratorAccess")])
        # A customer policy may share an AWS managed policy's name.
        conn.execute(t.managed_policies.insert(), [_policy(ACCOUNT, "AdministratorAccess")])
    with pytest.raises(IntegrityError), transaction(migrated_engine) as conn:
        conn.execute(
            t.managed_policies.insert(), [_policy(ACCOUNT, "administratoraccess", "/x/")]
        )
    with pytest.raises(IntegrityError), transaction(migrated_engine) as conn:
        conn.execute(
            t.managed_policies.insert(), [_policy(None, "ADMINISTRATORACCESS", "/job/")]
        )


def test_policy_namespace_must_match_account(migrated_engine: Engine) -> None:
    bad = _policy(ACCOUNT, "P") | {"namespace": "aws"}
    with pytest.raises(IntegrityError), transaction(migrated_engine) as conn:
        add_account(conn)
        conn.execute(t.managed_policies.insert(), [bad])


def test_deleting_a_user_takes_their_things(migrated_engine: Engine) -> None:
    with transaction(migrated_engine) as conn:
        add_account(conn)
        user_id = add_user(conn, ACCOUNT, "bob")
        keep = add_user(conn, ACCOUNT, "carol")
        add_access_key(conn, user_id)
        add_access_key(conn, keep)
        group_id = ids.new_group_id()
        conn.execute(t.groups.insert().values(
            group_id=group_id, account_id=ACCOUNT, name="g", name_lower="g", path="/",
            created_at=NOW))
        conn.execute(t.group_members.insert(), [
            {"group_id": group_id, "user_id": user_id}, {"group_id": group_id, "user_id": keep}])
        policy = _policy(ACCOUNT, "P")
        conn.execute(t.managed_policies.insert(), [policy])
        conn.execute(t.user_policy_attachments.insert().values(
            user_id=user_id, policy_id=policy["policy_id"]))
        conn.execute(t.login_profiles.insert().values(
            user_id=user_id, password_hash="$argon2id$x", password_reset_required=True,
            created_at=NOW, password_changed_at=NOW))
        conn.execute(t.mfa_devices.insert().values(
            serial_number=f"arn:aws:iam::{ACCOUNT}:mfa/bob", account_id=ACCOUNT, name="bob",
            name_lower="bob", path="/", seed_ciphertext=b"s", user_id=user_id, created_at=NOW))
        conn.execute(t.ssh_public_keys.insert().values(
            ssh_public_key_id=ids.new_ssh_public_key_id(), user_id=user_id, body="ssh-rsa AAAA",
            fingerprint="aa:bb", status="Active", uploaded_at=NOW))
        conn.execute(t.signing_certificates.insert().values(
            certificate_id=ids.new_signing_certificate_id(), account_id=ACCOUNT, user_id=user_id,
            body="PEM", fingerprint_sha256="f" * 64, status="Active", uploaded_at=NOW))
        conn.execute(t.password_history.insert().values(
            user_id=user_id, password_hash="$argon2id$old", set_at=NOW))
        conn.execute(t.inline_policies.insert().values(
            owner_type="user", owner_id=user_id, name="Inline", document="{}",
            created_at=NOW, updated_at=NOW))
        conn.execute(t.tags.insert().values(
            resource_type="user", resource_id=user_id, key="Team", key_lower="team", value="x"))

    with transaction(migrated_engine) as conn:
        delete_owned(conn, "user", user_id)
        conn.execute(delete(t.users).where(t.users.c.user_id == user_id))

    for table in (t.login_profiles, t.mfa_devices, t.ssh_public_keys, t.signing_certificates,
                  t.password_history, t.user_policy_attachments, t.inline_policies, t.tags):
        assert _count(migrated_engine, table) == 0, table.name
    assert _count(migrated_engine, t.access_keys) == 1
    assert _count(migrated_engine, t.group_members) == 1
    assert _count(migrated_engine, t.managed_policies) == 1


def test_attached_policy_cannot_be_deleted(migrated_engine: Engine) -> None:
    policy = _policy(ACCOUNT, "P")
    with transaction(migrated_engine) as conn:
        user_id = add_user(conn, add_account(conn), "bob")
        conn.execute(t.managed_policies.insert(), [policy])
        conn.execute(t.policy_versions.insert().values(
            policy_id=policy["policy_id"], version_id="v1", document="{}", created_at=NOW))
        conn.execute(t.user_policy_attachments.insert().values(
            user_id=user_id, policy_id=policy["policy_id"]))
    pid = t.managed_policies.c.policy_id == policy["policy_id"]
    with pytest.raises(IntegrityError), transaction(migrated_engine) as conn:
        conn.execute(delete(t.managed_policies).where(pid))
    with transaction(migrated_engine) as conn:
        conn.execute(delete(t.user_policy_attachments))
        conn.execute(delete(t.managed_policies).where(pid))
    assert _count(migrated_engine, t.policy_versions) == 0


def test_status_and_decision_checks(migrated_engine: Engine) -> None:
    with transaction(migrated_engine) as conn:
        user_id = add_user(conn, add_account(conn), "bob")
    with pytest.raises(IntegrityError), transaction(migrated_engine) as conn:
        conn.execute(t.access_keys.insert().values(
            access_key_id=ids.new_access_key_id(), user_id=user_id, secret_ciphertext=b"x",
            status="active", created_at=NOW))
    with pytest.raises(IntegrityError), transaction(migrated_engine) as conn:
        conn.execute(t.audit_records.insert().values(
            at=NOW, request_id="r", action="iam:GetUser", decision="maybe"))


def test_tag_keys_unique_ignoring_case(migrated_engine: Engine) -> None:
    row = {"resource_type": "user", "resource_id": "AIDAX", "value": "1"}
    with transaction(migrated_engine) as conn:
        conn.execute(t.tags.insert(), [row | {"key": "Team", "key_lower": "team"}])
    with pytest.raises(IntegrityError), transaction(migrated_engine) as conn:
        conn.execute(t.tags.insert(), [row | {"key": "TEAM", "key_lower": "team"}])


def test_inline_policy_names_are_case_sensitive(migrated_engine: Engine) -> None:
    row = {"owner_type": "group", "owner_id": "AGPAX", "document": "{}",
           "created_at": NOW, "updated_at": NOW}
    with transaction(migrated_engine) as conn:
        conn.execute(t.inline_policies.insert(), [row | {"name": "P"}, row | {"name": "p"}])
    assert _count(migrated_engine, t.inline_policies) == 2


def test_times_come_back_aware_utc(migrated_engine: Engine) -> None:
    plus_two = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    with transaction(migrated_engine) as conn:
        conn.execute(t.accounts.insert().values(account_id=ACCOUNT, created_at=plus_two))
    with migrated_engine.connect() as conn:
        got = conn.execute(select(t.accounts.c.created_at)).scalar_one()
    assert got == plus_two
    assert got.utcoffset() == timedelta(0)
    assert got.hour == 12 and got.microsecond == 123456


def test_sqlite_times_are_stored_as_sqlalchemy_stores_them() -> None:
    """UtcDateTime writes and reads SQLite's text itself (fast paths); the text must stay
    SQLAlchemy's own, six microsecond digits included, so rows written before and after
    sort and compare alike."""
    dialect = create_engine("sqlite://").dialect
    write = t.UtcDateTime().bind_processor(dialect)
    read = t.UtcDateTime().result_processor(dialect, None)
    reference = DATETIME().bind_processor(dialect)
    for value in (
        datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 27, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
    ):
        stored = write(value)
        assert stored == reference(value.astimezone(UTC).replace(tzinfo=None))
        assert read(stored) == value and read(stored).tzinfo is UTC
    with pytest.raises(ValueError):
        write(datetime(2024, 1, 1))


def test_naive_times_are_refused(migrated_engine: Engine) -> None:
    with pytest.raises(StatementError), transaction(migrated_engine) as conn:
        conn.execute(t.accounts.insert().values(account_id=ACCOUNT, created_at=datetime(2024, 1, 1)))


def test_audit_ids_autoincrement(migrated_engine: Engine) -> None:
    with transaction(migrated_engine) as conn:
        for i in range(3):
            conn.execute(t.audit_records.insert().values(
                at=NOW, request_id=ids.new_request_id(), action=f"iam:A{i}", decision="allowed"))
    with migrated_engine.connect() as conn:
        assert conn.execute(select(t.audit_records.c.id).order_by("id")).scalars().all() == [
            1, 2, 3]
