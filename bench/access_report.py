"""Service last accessed: what a report costs as the audit trail grows (issue 15).

Run: ``.venv/bin/python bench/access_report.py`` (``--requests N`` per step).

An account on SQLite with user ``alice`` (IAMReadOnlyAccess and an inline policy) in group
``devs`` with 20 other members; alice makes N authenticated requests spread over 50 IAM
actions, through ``Runtime.invoke`` (so their records and last uses go through the real
audit writer), then GenerateServiceLastAccessedDetails is invoked for alice and for the
group. Printed per trail length: the audit records, the ``action_last_used`` rows, and the
upserts of last uses the audit writer made for the step's requests (one per distinct
(principal, action) per batch, not one per request) and the SQL statements of each
Generate (counted with SQLAlchemy's cursor events):
counts, not clocks. The statements must not grow with the trail (DESIGN rule 8). moto
does not implement GenerateServiceLastAccessedDetails, so there is no peer to run beside.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.identifiers import new_request_id
from selfiam.service.bootstrap import create_account, seed_aws_managed_policies
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import create_engine_for, read_transaction, transaction
from selfiam.store.migrate import upgrade_to_head

ACCOUNT = "123456789012"
ACTIONS = ["GetUser", "ListUsers", "ListGroups", "ListRoles", "ListPolicies"] * 10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine_for(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade_to_head(engine)
        with transaction(engine) as conn:
            seed_aws_managed_policies(conn)
            create_account(conn, _now(), ACCOUNT)
        runtime = Runtime(engine, SecretBox(SecretBox.generate_key()))
        root = Caller.root(ACCOUNT)

        def call(op: str, caller: Caller = root, **params: Any) -> dict[str, Any]:
            info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
            return runtime.invoke("iam", op, params, caller, info)

        call("CreateGroup", GroupName="devs")
        call(
            "AttachGroupPolicy",
            GroupName="devs",
            PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess",
        )
        for i in range(21):
            name = "alice" if i == 0 else f"member{i}"
            call("CreateUser", UserName=name)
            call("AddUserToGroup", GroupName="devs", UserName=name)
        call(
            "PutUserPolicy",
            UserName="alice",
            PolicyName="s3",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
                }
            ),
        )
        user = call("GetUser", UserName="alice")["User"]
        alice = Caller(
            account_id=ACCOUNT, arn=user["Arn"], user_id=user["UserId"], user_name="alice"
        )
        counted = {"statements": 0, "upserts": 0}

        @event.listens_for(engine, "after_cursor_execute")
        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            counted["statements"] += 1
            if statement.startswith("INSERT INTO action_last_used"):
                counted["upserts"] += 1

        print(
            f"{'trail':>8} {'last-use rows':>13} {'upserts/step':>12} "
            f"{'Generate(user) stmts':>21} {'Generate(group) stmts':>22}"
        )
        for _ in range(3):
            counted["upserts"] = 0
            for i in range(args.requests):
                call(
                    ACTIONS[i % len(ACTIONS)],
                    caller=alice,
                    **({"UserName": "alice"} if ACTIONS[i % len(ACTIONS)] == "GetUser" else {}),
                )
            runtime.audit.flush()
            with read_transaction(engine) as conn:
                trail = conn.execute(select(func.count()).select_from(t.audit_records)).scalar()
                uses = conn.execute(select(func.count()).select_from(t.action_last_used)).scalar()
            upserts = counted["upserts"]
            figures = []
            for arn in (user["Arn"], f"arn:aws:iam::{ACCOUNT}:group/devs"):
                counted["statements"] = 0
                call("GenerateServiceLastAccessedDetails", Arn=arn)
                figures.append(counted["statements"])
            print(f"{trail:>8} {uses:>13} {upserts:>12} {figures[0]:>21} {figures[1]:>22}")
        sys.stdout.flush()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


if __name__ == "__main__":
    main()
