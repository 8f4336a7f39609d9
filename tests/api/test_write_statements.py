"""What an API write sends to the database, counted at the driver (support/statements.py),
on SQLite and PostgreSQL: one transaction and one commit per request (its authentication
included), no re-read of what it just inserted, no savepoint, one statement per counter
bump. The figures are ceilings: a change that removes statements keeps them green, one
that adds a statement to every write has to say so here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.api.conftest import Api, built_api

from selfiam.service.audit import AuditRecord, read_records
from support.statements import StatementLog, is_commit

V = {"Version": "2010-05-08"}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"

#: At most this many statements (BEGIN and COMMIT included on SQLite; on PostgreSQL the
#: pool's ping ``;`` counts, psycopg's own BEGIN does not) per request. A write no longer
#: reloads its caller's credentials and policies unless it changed them (the change feed
#: names what changed: service/invalidation.py).
CEILINGS = {"CreateUser": 9, "CreateAccessKey": 8, "DeleteAccessKey": 8}


@pytest.fixture(params=["sqlite", "postgresql"])
def admin_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, StatementLog]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('writes') / 'api.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    with built_api(url) as api:
        api.root("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
        # A node caches callers on PostgreSQL only while its change feed is up (its own
        # psycopg connections, not the engine's: not counted here).
        api.runtime.start_feed()
        try:
            log = StatementLog(api.runtime.engine)
            api.runtime.engine.dispose()  # from here on every connection is a counted one
            # The key's first use is noted once (GetAccessKeyLastUsed), by the audit writer.
            assert api.send({"Action": "GetUser", **V}, service="iam")[0] == 200
            yield api, log
        finally:
            api.runtime.close()


def _send(api: Api, log: StatementLog, params: dict[str, str]) -> tuple[str, list[str]]:
    api.runtime.audit.flush()
    with log.recording() as statements:
        status, body = api.send({**params, **V}, service="iam")
        api.runtime.audit.flush()
    assert status == 200, body
    return body, list(statements)


def _check(name: str, statements: list[str], sqlite: bool) -> None:
    upper = [s.upper() for s in statements]
    ends = [i for i, s in enumerate(upper) if is_commit(s)]
    if ends:
        # After its commit a PostgreSQL write may ask which nodes listen to the change feed,
        # to wait for their acknowledgements (service/invalidation.py), in a read of its
        # own (only while its listener is younger than a lease).
        after = upper[ends[0] + 1:]
        assert all(_after_the_write(s) for s in after), "\n".join(upper)
        upper = upper[: ends[0] + 1]
        statements = statements[: len(upper)]
    assert len(statements) <= CEILINGS[name], "\n".join(statements)
    assert sum(is_commit(s) for s in upper) == 1, statements
    assert not any(s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")) for s in upper)
    assert sum(s.startswith("BEGIN") for s in upper) == (1 if sqlite else 0)
    if sqlite:  # authentication read the key inside the write's own transaction
        assert upper[0] == "BEGIN IMMEDIATE" and upper[-1] == "COMMIT"


def _after_the_write(statement: str) -> bool:
    return "PG_STAT_ACTIVITY" in statement or statement == "ROLLBACK"


def test_create_user_is_one_transaction_without_a_re_read(
    admin_api: tuple[Api, StatementLog],
) -> None:
    api, log = admin_api
    sqlite = api.runtime.local_database
    for i in range(3):
        body, statements = _send(api, log, {"Action": "CreateUser", "UserName": f"u{i}"})
        assert f"<UserName>u{i}</UserName>" in body
        _check("CreateUser", statements, sqlite)
        inserted = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO users"))
        assert not any(s.startswith("SELECT") and "FROM users" in s
                       for s in statements[inserted:]), statements
    status, body = api.send({"Action": "GetUser", "UserName": "u2", **V}, service="iam")
    assert status == 200 and "<Path>/</Path>" in body


def test_access_key_pair_is_one_transaction_each(admin_api: tuple[Api, StatementLog]) -> None:
    api, log = admin_api
    sqlite = api.runtime.local_database
    api.root("CreateUser", UserName="k")
    for _ in range(3):
        body, statements = _send(api, log, {"Action": "CreateAccessKey", "UserName": "k"})
        _check("CreateAccessKey", statements, sqlite)
        key_id = body.split("<AccessKeyId>", 1)[1].split("<", 1)[0]
        _, statements = _send(
            api, log, {"Action": "DeleteAccessKey", "UserName": "k", "AccessKeyId": key_id}
        )
        _check("DeleteAccessKey", statements, sqlite)


def test_a_refused_write_leaves_nothing_and_one_record(
    admin_api: tuple[Api, StatementLog],
) -> None:
    """An error inside the shared transaction rolls back all of it (the user is not
    created twice, the quota count and the lock go with it) and is audited once."""
    api, log = admin_api
    _send(api, log, {"Action": "CreateUser", "UserName": "twice"})
    status, body = api.send({"Action": "CreateUser", "UserName": "TWICE", **V}, service="iam")
    assert status == 409 and "EntityAlreadyExists" in body
    api.runtime.audit.flush()
    records = [
        r for r in _records(api) if r.action == "iam:CreateUser" and r.resource is not None
    ]
    assert [r.error_code for r in records if (r.resource or "").endswith("/TWICE")] == [
        "EntityAlreadyExists"
    ]
    listed = api.root("ListUsers")["Users"]
    assert [u["UserName"] for u in listed].count("twice") == 1


def _records(api: Api) -> list[AuditRecord]:
    records: list[AuditRecord] = read_records(api.runtime.engine, limit=50)
    return records


def test_a_postgresql_write_sends_its_notification_and_record_with_its_commit(
    postgres_url: str,
) -> None:
    """The change's ``pg_notify`` and the request's audit record are no round trips of
    their own (store/pg_commit.py), a CreateUser's quota check is part of its INSERT
    (service/quotas.insert_within_account_quota), and a node whose feed listener is
    younger than a lease asks nothing after the commit: it listed the listening nodes
    once, when it began to listen (service/invalidation.py)."""
    with built_api(postgres_url) as api:
        api.root("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
        api.runtime.start_feed()
        try:
            log = StatementLog(api.runtime.engine)
            api.runtime.engine.dispose()
            assert api.send({"Action": "GetUser", **V}, service="iam")[0] == 200
            for params in (
                {"Action": "CreateUser", "UserName": "pg"},
                {"Action": "TagUser", "UserName": "pg", "Tags.member.1.Key": "k",
                 "Tags.member.1.Value": "v"},
            ):
                _, statements = _send(api, log, params)
                upper = [s.upper() for s in statements]
                notifying = [s for s in upper if "PG_NOTIFY" in s]
                assert len(notifying) == 1 and is_commit(notifying[0]), statements
                assert upper[-1] == notifying[0], statements  # nothing after the commit
                assert sum(is_commit(s) for s in upper) == 1, statements
                recording = [s for s in upper if "INSERT INTO AUDIT_RECORDS" in s]
                assert recording == [upper[-1]], statements
                if params["Action"] == "CreateUser":
                    assert len(upper) == 2, statements
                    assert upper[0].startswith("INSERT INTO USERS") and "FOR UPDATE" in upper[0]
            records = [r for r in _records(api) if r.resource and r.resource.endswith("/pg")]
            assert sorted((r.action, r.decision) for r in records) == [
                ("iam:CreateUser", "allowed"), ("iam:TagUser", "allowed")
            ]
        finally:
            api.runtime.close()
