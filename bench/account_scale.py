"""Account scale: does a request cost what its answer costs, or what the account holds?

Run: ``PYTHONPATH=src .venv/bin/python bench/account_scale.py`` (``--sizes 1000 5000``
by default; ``--quick`` for fewer repetitions). About two minutes on a 2-core machine.

For each size, a new data directory is made with ``selfiam init`` and filled with
``selfiam user import`` (JSON, no passwords, every user in the ``SelfService`` group and
tagged; the import's wall time is printed), plus the same fixed furniture at every size
(20 groups, 20 roles, 50 customer managed policies, one attached to each role). Then
each operation is invoked in process, through ``Runtime.invoke`` as the account's root
(the service layer: authorization, the transaction, the audit record; no HTTP, no
SigV4, whose cost does not depend on the account), and measured by

* the median CPU time of one call (``time.thread_time``: the operation and SQLite run
  in the calling thread; a warm-up first, then ``--reps`` calls), and
* the number of SQL statements the call sent (counted on the engine, this thread only).

A write is undone after each measured call (DeleteUser, DeleteAccessKey), untimed, so
the account keeps its size. Pages start in the middle of the account (a marker taken
from an untimed call), where an OFFSET or a scan from the start would show.

Printed: per operation and size the median (ms) and statements, then the ratio of the
largest size to the smallest. Flat is about 1.0x; GenerateCredentialReport's build and
a report's download return the whole account and grow with it by design.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event

from selfiam.cli.options import settings_from
from selfiam.cli.root import RootSession
from selfiam.service.operations.credential_report import build_report
from selfiam.store.engine import read_transaction

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
DOC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
    }
)


@dataclass
class Figure:
    #: Median CPU time of this thread per call (the operation runs in it, SQLite too):
    #: on a shared machine, CPU time is steadier than wall time.
    median_ms: float
    statements: float


class StatementCounter:
    """Counts the SQL statements this thread runs on ``engine``'s SQLite connections,
    as SQLite reports them (its trace callback: every statement, prepared or not,
    BEGIN and COMMIT included; the statements of a trigger are not counted apart)."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        self._thread = threading.get_ident()
        event.listen(engine, "connect", self._connected)
        engine.dispose()  # connections made from now on are traced

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(self._seen)

    def _seen(self, statement: str) -> None:
        if threading.get_ident() == self._thread and not statement.startswith("--"):
            self.count += 1


def _cli(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "selfiam.cli", *args], check=True, stdout=subprocess.DEVNULL
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def populate(data_dir: Path, users: int) -> tuple[float, float]:
    """``selfiam init`` and ``selfiam user import`` of ``users`` users: the import's wall
    and CPU seconds."""
    _cli("init", "--data-dir", str(data_dir))
    with session_for(data_dir) as s:  # `selfiam init` made a user or two: count them in
        existing = len(s.call("ListUsers", MaxItems=1000)["Users"])
    entries = [
        {
            "name": f"user{i:05d}",
            "groups": ["SelfService"],
            "tags": {"team": f"t{i % 7}"},
            "password": False,
        }
        # One place is left under the quota (5,000) for the CreateUser measured.
        for i in range(users - existing - 1)
    ]
    path = data_dir / "users.json"
    path.write_text(json.dumps(entries))
    start, cpu = time.perf_counter(), _children_cpu()
    _cli("user", "import", str(path), "--data-dir", str(data_dir), "--no-progress")
    return time.perf_counter() - start, _children_cpu() - cpu


def furnish(session: RootSession) -> None:
    """The same groups, roles and policies at every size."""
    for i in range(20):
        session.call("CreateGroup", GroupName=f"group{i:02d}")
        session.call("CreateRole", RoleName=f"role{i:02d}", AssumeRolePolicyDocument=TRUST)
    for i in range(50):
        arn = session.call("CreatePolicy", PolicyName=f"policy{i:02d}", PolicyDocument=DOC)[
            "Policy"
        ]["Arn"]
        if i < 20:
            session.call("AttachRolePolicy", RoleName=f"role{i:02d}", PolicyArn=arn)


def measure(
    counter: StatementCounter,
    reps: int,
    call: Callable[[int], Any],
    undo: Callable[[int, Any], None] | None = None,
) -> Figure:
    for i in range(-max(2, reps // 4), 0):  # warm-up: caches filled, code paths compiled
        result = call(i)
        if undo is not None:
            undo(i, result)
    times, statements = [], []
    for i in range(reps):
        before = counter.count
        start = time.thread_time()
        result = call(i)
        times.append(time.thread_time() - start)
        statements.append(counter.count - before)
        if undo is not None:
            undo(i, result)
    return Figure(statistics.median(times) * 1000, statistics.median(statements))


@contextmanager
def session_for(data_dir: Path) -> Iterator[RootSession]:
    session = RootSession.open(settings_from(str(data_dir), None))
    try:
        yield session
    finally:
        session.runtime.audit.flush()
        session.runtime.engine.dispose()


def run_size(users: int, reps: int, workdir: Path) -> tuple[tuple[float, float], dict[str, Figure]]:
    data_dir = workdir / f"n{users}"
    imported = populate(data_dir, users)
    figures: dict[str, Figure] = {}
    with session_for(data_dir) as s:
        furnish(s)
        counter = StatementCounter(s.runtime.engine)
        middle = f"user{users // 2:05d}"
        mid_users = s.call("ListUsers", MaxItems=users // 2)["Marker"]
        mid_gaad = s.call("GetAccountAuthorizationDetails", Filter=["User"], MaxItems=users // 2)[
            "Marker"
        ]
        heavy = max(3, reps // 10)

        def add(name: str, figure: Figure) -> None:
            figures[name] = figure

        add(
            "GetUser",
            measure(
                counter,
                reps,
                lambda i: s.call("GetUser", UserName=f"user{(i * 7919) % (users // 2):05d}"),
            ),
        )
        add(
            "ListUsers page (100, mid-account)",
            measure(counter, reps, lambda i: s.call("ListUsers", MaxItems=100, Marker=mid_users)),
        )
        add(
            "ListGroupsForUser",
            measure(counter, reps, lambda i: s.call("ListGroupsForUser", UserName=middle)),
        )
        add(
            "CreateUser",
            measure(
                counter,
                reps,
                lambda i: s.call("CreateUser", UserName=f"extra{i + 1}"),
                lambda i, _: s.call("DeleteUser", UserName=f"extra{i + 1}"),
            ),
        )
        add(
            "CreateGroup",
            measure(
                counter,
                reps,
                lambda i: s.call("CreateGroup", GroupName=f"extra{i + 1}"),
                lambda i, _: s.call("DeleteGroup", GroupName=f"extra{i + 1}"),
            ),
        )
        add(
            "CreateAccessKey",
            measure(
                counter,
                reps,
                lambda i: s.call("CreateAccessKey", UserName=middle),
                lambda i, out: s.call(
                    "DeleteAccessKey", UserName=middle, AccessKeyId=out["AccessKey"]["AccessKeyId"]
                ),
            ),
        )
        add("GetAccountSummary", measure(counter, reps, lambda i: s.call("GetAccountSummary")))
        add(
            "GetAccountAuthorizationDetails page (100 users, mid)",
            measure(
                counter,
                heavy,
                lambda i: s.call(
                    "GetAccountAuthorizationDetails", Filter=["User"], MaxItems=100, Marker=mid_gaad
                ),
            ),
        )
        add(
            "GetAccountAuthorizationDetails page (roles+policies)",
            measure(
                counter,
                heavy,
                lambda i: s.call(
                    "GetAccountAuthorizationDetails",
                    Filter=["Role", "LocalManagedPolicy", "AWSManagedPolicy"],
                    MaxItems=100,
                ),
            ),
        )
        add(
            "ListPolicies page (Local, 100)",
            measure(counter, reps, lambda i: s.call("ListPolicies", Scope="Local", MaxItems=100)),
        )
        add(
            "SimulatePrincipalPolicy (1 action)",
            measure(
                counter,
                reps,
                lambda i: s.call(
                    "SimulatePrincipalPolicy",
                    PolicySourceArn=f"arn:aws:iam::{s.account_id}:user/{middle}",
                    ActionNames=["iam:GetUser"],
                ),
            ),
        )

        def generate(i: int) -> Any:
            with s.runtime.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM credential_reports")
            return s.call("GenerateCredentialReport")

        add("GenerateCredentialReport (the call)", measure(counter, heavy, generate))
        for thread in threading.enumerate():  # background builds (this branch) end first
            if thread.name.startswith("credential-report-"):
                thread.join()

        def build(i: int) -> str:
            with read_transaction(s.runtime.engine) as conn:
                return str(build_report(conn, s.account_id))

        add("credential report build (whole account)", measure(counter, heavy, build))
    return imported, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--reps", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    reps = 15 if args.quick else args.reps
    results: dict[int, dict[str, Figure]] = {}
    with tempfile.TemporaryDirectory(prefix="selfiam-scale-") as tmp:
        for users in args.sizes:
            (wall, cpu), figures = run_size(users, reps, Path(tmp))
            print(
                f"{users} users: `selfiam user import` took {wall:.1f} s wall, {cpu:.1f} s CPU"
                f" ({cpu / users * 1000:.2f} ms CPU per user)",
                flush=True,
            )
            results[users] = figures
    small, large = min(args.sizes), max(args.sizes)
    head = f"{'operation':56}" + "".join(f"{f'{n} ms':>11}{'stmts':>7}" for n in args.sizes)
    print(head + f"{'time ratio':>12}{'stmt ratio':>12}")
    for name in results[small]:
        row = f"{name:56}"
        for n in args.sizes:
            fig = results[n][name]
            row += f"{fig.median_ms:>11.2f}{fig.statements:>7.0f}"
        a, b = results[small][name], results[large][name]
        stmt_ratio = b.statements / a.statements if a.statements else 1.0
        row += f"{b.median_ms / a.median_ms:>11.2f}x{stmt_ratio:>11.2f}x"
        print(row, flush=True)
    print(
        f"(ratios: {large} users / {small} users; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
