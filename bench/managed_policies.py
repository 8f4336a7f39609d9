"""AWS's managed policies: listing and reading them, selfiam beside moto_server, in one run.

Run: ``.venv/bin/python bench/managed_policies.py`` (``--rounds N``, default 5).

Both servers run as subprocesses on free loopback ports (selfiam: ``selfiam init`` then
``selfiam serve`` on SQLite, through the integration tests' harness; ``moto_server`` as it
ships, with its own copy of AWS's managed policies, ``MOTO_IAM_LOAD_MANAGED_POLICIES=true``). Through boto3, each round:

* lists every AWS managed policy (``list_policies`` paginator, Scope=AWS, MaxItems=100);
* reads ReadOnlyAccess: GetPolicy, then GetPolicyVersion of its default version (~90 KB);

Printed: policies and pages listed, the median seconds per full listing and per page, the
median milliseconds of the two reads, and the ratios selfiam/moto_server.

Then, in process (no HTTP), the count that shows a page's cost is flat: the SQLite virtual
machine steps (``set_progress_handler``, per 100 steps) of ListPolicies' one statement for
the first page and the 15th page of Scope=AWS, for Scope=All, and for OnlyAttached.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from support.moto import moto_server  # noqa: E402
from support.server import live_server  # noqa: E402

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _median(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measure(iam: Any, rounds: int) -> dict[str, float]:
    def list_all() -> tuple[int, int]:
        pages = list(iam.get_paginator("list_policies").paginate(Scope="AWS", MaxItems=100))
        return sum(len(p["Policies"]) for p in pages), len(pages)

    def read() -> None:
        version = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]["DefaultVersionId"]
        iam.get_policy_version(PolicyArn=READ_ONLY, VersionId=version)

    listing, (count, pages) = _median(list_all, rounds)
    reading, _ = _median(read, rounds)
    return {
        "policies": count,
        "pages": pages,
        "list_s": listing,
        "page_ms": listing / pages * 1000,
        "read_ms": reading * 1000,
    }


def vm_steps() -> list[tuple[str, int, int]]:
    """(label, rows, SQLite VM steps / 100) of ListPolicies' statement, in process."""
    from sqlalchemy import event

    from selfiam.auth.secretbox import SecretBox
    from selfiam.service.bootstrap import create_account
    from selfiam.service.caller import Caller, RequestInfo
    from selfiam.service.runtime import Runtime
    from selfiam.store.engine import create_engine_for, transaction
    from support.seeded import seeded_sqlite

    folder = Path(tempfile.mkdtemp())
    url = seeded_sqlite(folder / "bench.db")
    engine = create_engine_for(url)
    runtime = Runtime(engine, SecretBox(SecretBox.generate_key()))
    with transaction(engine) as conn:
        create_account(conn, runtime.clock(), "123456789012")
    root = Caller.root("123456789012")
    seen: list[tuple[str, Any]] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda c, cur, sql, params, ctx, many: seen.append((sql, params)),
    )

    def call(**params: Any) -> dict[str, Any]:
        info = RequestInfo(request_id="bench", now=runtime.clock(), service="iam")
        return runtime.invoke("iam", "ListPolicies", params, root, info)

    raw = sqlite3.connect(str(folder / "bench.db"))
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    raw.set_progress_handler(tick, 100)
    out = []

    def count(label: str, **params: Any) -> dict[str, Any]:
        seen.clear()
        answer = call(**params)
        sql, values = [s for s in seen if "managed_policies" in s[0]][-1]
        steps[0] = 0
        raw.execute(sql, values).fetchall()
        out.append((label, len(answer["Policies"]), steps[0]))
        return answer

    page = count("Scope=AWS, page 1", Scope="AWS")
    for _ in range(13):
        page = call(Scope="AWS", Marker=page["Marker"])
    count("Scope=AWS, page 15", Scope="AWS", Marker=page["Marker"])
    count("Scope=All, page 1", Scope="All")
    count("OnlyAttached (none attached)", OnlyAttached=True)
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with live_server(Path(tmp) / "selfiam") as selfiam:
            results["selfiam"] = measure(selfiam.client(), args.rounds)
        # moto loads its copy of AWS's managed policies only when asked to.
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        with moto_server(Path(tmp) / "moto.log", timeout=60) as moto:
            results["moto_server"] = measure(moto.client(), args.rounds)
    for name, r in results.items():
        print(
            f"{name:<12} {int(r['policies']):>5} policies in {int(r['pages']):>3} pages: "
            f"median {r['list_s']:.2f} s per listing, {r['page_ms']:.1f} ms per page; "
            f"GetPolicy+GetPolicyVersion(ReadOnlyAccess) {r['read_ms']:.1f} ms"
        )
    s, m = results["selfiam"], results["moto_server"]
    print(
        f"ratio selfiam/moto_server: per page {s['page_ms'] / m['page_ms']:.2f}, "
        f"reads {s['read_ms'] / m['read_ms']:.2f}"
    )
    print("ListPolicies' statement alone (SQLite, in process):")
    for label, rows, steps in vm_steps():
        print(f"  {label:<30} rows {rows:>4}  VM steps/100 {steps:>5}")


if __name__ == "__main__":
    main()
