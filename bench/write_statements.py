"""What one API write sends to the database: statements and commits, counted at the driver.

Run: ``.venv/bin/python bench/write_statements.py`` (``--postgres`` for a new database on
the test suite's PostgreSQL server, ``--list`` to print every statement, its first
``WIDTH`` characters: 140 unless the environment says otherwise).

An in-process API (tests/api/conftest.py's ``built_api``: the real endpoint, SigV4 and a
real Runtime) over a fresh database; ``alice`` (AdministratorAccess) signs CreateUser,
CreateAccessKey, DeleteAccessKey, AssumeRole (of a role trusting alice) and, for
comparison, GetUser. Counting happens below SQLAlchemy (tests/support/statements.py), so
the prepared hot-path reads and SQLite's ``BEGIN`` are seen too. On PostgreSQL the pool's
pre-ping (``;``) counts as a statement and psycopg's own ``BEGIN`` (one per transaction)
does not. Counts, not clocks: the figures are the same on a quiet machine and a busy one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tests.api.conftest import ACCOUNT, Api, built_api  # noqa: E402

from support.postgres import create_database, drop_database  # noqa: E402
from support.statements import StatementLog  # noqa: E402

V = {"Version": "2010-05-08"}
WIDTH = int(os.environ.get("WIDTH", "140"))  # characters of each statement --list prints


def measure(url: str, show: bool) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    with built_api(url) as api:
        api.root("AttachUserPolicy", UserName="alice",
                 PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        api.root("CreateUser", UserName="k")
        trust = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": '
                 f'{{"AWS": "arn:aws:iam::{ACCOUNT}:user/alice"}}, "Action": "sts:AssumeRole"}}]}}')
        role_arn = api.root("CreateRole", RoleName="r",
                            AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        # A PostgreSQL node caches callers only while its change feed is up (its own
        # psycopg connections, not the engine's: not counted), as a served node does.
        api.runtime.start_feed()
        log = StatementLog(api.runtime.engine)
        api.runtime.engine.dispose()
        _send(api, {"Action": "GetUser"})  # the key's first use is noted once: not counted

        def counted(name: str, params: dict[str, str], service: str = "iam") -> str:
            api.runtime.audit.flush()
            with log.recording() as statements:
                body = _send(api, params, service)
                api.runtime.audit.flush()
            out.append((name, len(statements), log.commits()))
            if show:
                print(f"{name}:")
                for s in statements:
                    print("    " + s[:WIDTH])
            return body

        # Each operation three times in a row, as a client repeating it would (the bench's
        # scenarios): the last one is reported.
        for i in range(3):
            counted("CreateUser", {"Action": "CreateUser", "UserName": f"u{i}"})
        for _ in range(3):
            body = counted("CreateAccessKey", {"Action": "CreateAccessKey", "UserName": "k"})
            key_id = body.split("<AccessKeyId>", 1)[1].split("<", 1)[0]
            counted("DeleteAccessKey",
                    {"Action": "DeleteAccessKey", "UserName": "k", "AccessKeyId": key_id})
        for i in range(3):
            counted("AssumeRole", {"Action": "AssumeRole", "RoleArn": role_arn,
                                   "RoleSessionName": f"s{i}", "Version": "2011-06-15"}, "sts")
        for _ in range(3):
            counted("GetUser", {"Action": "GetUser", "UserName": "k"})
        api.runtime.close()
    last: dict[str, tuple[str, int, int]] = {row[0]: row for row in out}
    return list(last.values())


def _send(api: Api, params: dict[str, str], service: str = "iam") -> str:
    status, body = api.send({**V, **params}, service=service)
    if status != 200:
        raise RuntimeError(f"{params['Action']}: HTTP {status}: {body[:200]}")
    return body


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--list", action="store_true", help="print every statement")
    args = ap.parse_args(argv)
    if args.postgres:
        url = create_database()
        try:
            rows = measure(url, args.list)
        finally:
            drop_database(url)
    else:
        with tempfile.TemporaryDirectory(prefix="selfiam-statements-") as tmp:
            rows = measure(f"sqlite:///{tmp}/statements.db", args.list)
    print(f"{'PostgreSQL' if args.postgres else 'SQLite'}: statements per request "
          "(BEGIN/COMMIT included; PostgreSQL: pre-ping included, psycopg's BEGIN not)")
    for name, statements, commits in rows:
        print(f"  {name:<16} {statements:>3} statements  {commits} commit{'s' * (commits != 1)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
