"""The shipped migrations produce exactly ``tables.metadata``, on both backends."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

from selfiam.store.engine import create_engine_for
from selfiam.store.migrate import current_revision, head_revision, upgrade_to_head
from selfiam.store.tables import changes, metadata


def _diffs(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(ctx, metadata))


def test_migrated_schema_matches_metadata(migrated_engine: Engine) -> None:
    assert _diffs(migrated_engine) == []


def test_migrated_database_is_at_head_with_an_empty_change_feed(migrated_engine: Engine) -> None:
    assert current_revision(migrated_engine) == head_revision()
    with migrated_engine.connect() as conn:
        assert conn.execute(select(changes)).all() == []


def test_upgrade_is_idempotent(migrated_engine: Engine) -> None:
    upgrade_to_head(migrated_engine)
    assert current_revision(migrated_engine) == head_revision()
    assert _diffs(migrated_engine) == []


def test_upgrade_accepts_a_url(db_url: str) -> None:
    upgrade_to_head(db_url)
    engine = create_engine_for(db_url)
    try:
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_empty_database_has_no_revision(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        assert current_revision(engine) is None
    finally:
        engine.dispose()


def test_concurrent_upgrades_serialize(db_url: str) -> None:
    """Several processes starting at once must not trip over each other."""
    engines = [create_engine_for(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def run(engine: Engine) -> None:
        try:
            barrier.wait()
            upgrade_to_head(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
        with engines[0].connect() as conn:
            assert conn.execute(select(changes)).all() == []
    finally:
        for e in engines:
            e.dispose()


def test_0010_records_existing_trust_policies_by_unique_id(db_url: str) -> None:
    """A role made before 0010 trusts the user it named then, not a namesake made after
    (the trust policy's ARNs recorded by unique id, as IAM stores them)."""
    import json

    from alembic import command
    from sqlalchemy import text

    from selfiam.store.migrate import alembic_config

    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0007")
            conn.execute(
                text(
                    "INSERT INTO accounts (account_id, created_at) "
                    "VALUES ('123456789012', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO users (user_id, account_id, name, name_lower, path, created_at)"
                    " VALUES ('AIDAOLDALICE00000000', '123456789012', 'alice', 'alice', '/t/',"
                    " CURRENT_TIMESTAMP)"
                )
            )
            trust = json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": ["arn:aws:iam::123456789012:user/t/alice", "123456789012"]
                            },
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            )
            conn.execute(
                text(
                    "INSERT INTO roles (role_id, account_id, name, name_lower, path,"
                    " assume_role_policy_document, max_session_duration, created_at) VALUES"
                    " ('AROAOLDROLE000000000', '123456789012', 'r', 'r', '/', :doc, 3600,"
                    " CURRENT_TIMESTAMP)"
                ),
                {"doc": trust},
            )
        upgrade_to_head(engine)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT principal_ids, document_by_id FROM role_trust_principals")
            ).one()
        assert json.loads(row.principal_ids) == {
            "arn:aws:iam::123456789012:user/t/alice": "AIDAOLDALICE00000000"
        }
        by_id = json.loads(row.document_by_id)
        assert by_id["Statement"][0]["Principal"]["AWS"] == ["AIDAOLDALICE00000000", "123456789012"]
    finally:
        engine.dispose()


def test_0013_gives_policy_tags_their_exact_key(db_url: str) -> None:
    """A policy tagged before 0013 keeps its tag and can then take another in another case
    (policy tag keys are case-sensitive, as in AWS); a user's tag stays case-insensitive."""
    from alembic import command
    from sqlalchemy import text

    from selfiam.store.migrate import alembic_config

    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0012")
            conn.execute(
                text(
                    "INSERT INTO tags (resource_type, resource_id, key, key_lower, value) VALUES"
                    " ('policy', 'ANPAOLD', 'Team', 'team', 'a'),"
                    " ('user', 'AIDAOLD', 'Team', 'team', 'b')"
                )
            )
        upgrade_to_head(engine)
        with engine.begin() as conn:
            rows = conn.execute(
                text("SELECT resource_type, key_lower FROM tags ORDER BY resource_type")
            ).all()
            assert [tuple(r) for r in rows] == [("policy", "Team"), ("user", "team")]
            conn.execute(
                text(
                    "INSERT INTO tags (resource_type, resource_id, key, key_lower, value) VALUES"
                    " ('policy', 'ANPAOLD', 'team', 'team', 'c')"
                )
            )
    finally:
        engine.dispose()
