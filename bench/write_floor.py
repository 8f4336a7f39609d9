"""The floor under an API write on PostgreSQL, on this machine, beside moto_server.

Run: ``.venv/bin/python bench/write_floor.py`` (``--count N`` writes per measurement).

Issue 14 asks for PostgreSQL writes at least 3x moto_server's rate. At concurrency 1 a
client waits for each answer before sending the next request, so a server's rate is one
over its time per request, and that time cannot be shorter than the sum of two parts that
no server's code can avoid, measured here:

* **the HTTP exchange**: the benchmark's own client (``bench/load_support.py``: signed
  requests, one keep-alive connection per thread) against a server that answers at once,
  reading the request and parsing nothing (``_NULL_SERVER``: an asyncio protocol in a
  process of its own);
* **the database's transaction**: selfiam's CreateUser statements, run from a plain loop
  with no HTTP, SigV4, policy or cache work around them: the quota-guarded INSERT
  (``service/quotas.py``), then the change-feed notification and the audit record sent
  with the COMMIT (``store/pg_commit.py``), whose WAL flush PostgreSQL waits for
  (``synchronous_commit`` on: a write that returned is durable). Run four ways
  (``WAYS``): through selfiam's store code; through psycopg alone (the same statements
  written out); the same with ``synchronous_commit`` off (a COMMIT that does not wait for
  the flush); and all of it in one query, one round trip, which no server could send for
  a CreateUser (the INSERT's outcome decides what comes next) but which is the least a
  transaction takes. No change-feed listener runs, so no write waits for its echo: a
  floor, below what a served write costs.

moto_server's CreateUser is measured in the same run, as ``bench/api_load.py`` measures
it. Printed: each part's median, their sum, the best rate that sum allows and its ratio to
moto's rate, and what 3x leaves for the server's own work (negative: nothing can); for
concurrency 8, the same transaction from 8 threads (every CreateUser of an account queues
on the account's counter row, which keeps the user quota exact: DESIGN rule 6) and the
CPU per write of both parts (client, null server, selfiam's store code or psycopg,
PostgreSQL's backends) against the machine's cores. CreateUser is the lightest of the three
writes measured (2 statements per request; the key pair's and AssumeRole's take 3 and 4).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

import psycopg  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from sqlalchemy import Engine  # noqa: E402
from tests.api.conftest import ACCOUNT, built_api  # noqa: E402

from api_load import prepare, scenarios  # noqa: E402
from load_support import (  # noqa: E402
    CLK_TCK,
    Scenario,
    Target,
    moto_server,
    own_cpu_seconds,
    process_stats,
    run_scenario,
    stat_fields,
)
from selfiam.domain.identifiers import new_user_id  # noqa: E402
from selfiam.service.audit import AuditRecord, write_record  # noqa: E402
from selfiam.service.operations.account import USERS_QUOTA  # noqa: E402
from selfiam.service.quotas import insert_within_account_quota  # noqa: E402
from selfiam.store import change_feed as feed  # noqa: E402
from selfiam.store import counters  # noqa: E402
from selfiam.store import tables as t  # noqa: E402
from selfiam.store.engine import transaction  # noqa: E402
from support.postgres import create_database, drop_database  # noqa: E402

_NULL_SERVER = r"""
import asyncio, sys
BODY = b"<CreateUserResponse><CreateUserResult><User><UserId>AIDANULL</UserId></User>" \
       b"</CreateUserResult></CreateUserResponse>"
ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: "
          + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)

class Null(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(ANSWER)

async def main():
    server = await asyncio.get_running_loop().create_server(Null, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def postgres_cpu_seconds() -> float:
    """utime + stime of every PostgreSQL process now (its backends and helpers)."""
    total = 0
    for _pid, stat in process_stats():
        if stat[stat.index(b"(") + 1:].startswith(b"postgres"):
            total += sum(int(x) for x in stat_fields(stat)[11:13])  # utime, stime
    return total / CLK_TCK


class Floor:
    """Per-write medians and CPU of one part, at one concurrency."""

    def __init__(self, name: str, concurrency: int, latencies: list[float], seconds: float,
                 cpu: dict[str, float]) -> None:
        self.name, self.concurrency = name, concurrency
        self.p50_ms = statistics.median(latencies) * 1000
        self.rate = len(latencies) / seconds
        self.cpu_ms = {k: v * 1000 / len(latencies) for k, v in cpu.items()}

    def line(self) -> str:
        cpu = ", ".join(f"{k} {v:.3f}" for k, v in self.cpu_ms.items())
        return (f"  {self.name:<50} c={self.concurrency}  p50 {self.p50_ms:6.3f} ms  "
                f"{self.rate:7.1f}/s  cpu ms per write: {cpu}")


def http_floor(create_user: Scenario, count: int, concurrency: int) -> Floor:
    """The benchmark client's CreateUser requests against a server that does nothing."""
    null = subprocess.Popen([sys.executable, "-c", _NULL_SERVER], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert null.stdout is not None
        endpoint = f"http://127.0.0.1:{null.stdout.readline().strip()}"
        target = Target("null", endpoint, null.pid, "AKIANULLNULLNULLNULL", "null-secret",
                        "a server that does nothing", bench_creds=Credentials("AKIANULL", "x"))
        result = run_scenario(target, create_user, concurrency, count, 60)
    finally:
        null.kill()
        null.wait()
    cpu = {"client": result.client_cpu_seconds, "server": result.cpu_seconds}
    return Floor("HTTP exchange (a server that does nothing)", concurrency, result.latencies,
                 result.seconds, cpu)


#: The path of the users the measurements create (deleted before each)
FLOOR_PATH = "/floor/"


@dataclass(frozen=True)
class Way:
    """A way of running CreateUser's transaction: its label, whether it runs on a psycopg
    connection of its own (else selfiam's engine), and that connection's settings."""

    label: str
    psycopg: bool = False
    options: str = ""
    autocommit: bool = False


#: How :func:`database_floor` may run the transaction.
WAYS = {
    "store": Way("CreateUser's transaction, no HTTP"),
    "driver": Way("the same, psycopg alone", psycopg=True),
    "lossy": Way("the same, not durable", psycopg=True, options="-c synchronous_commit=off"),
    "one trip": Way("all in one round trip, psycopg alone", psycopg=True, autocommit=True),
}


def database_floor(engine: Engine, count: int, concurrency: int, first: int, way: str) -> Floor:
    """selfiam's CreateUser transaction, ``count`` times from ``concurrency`` threads, run
    the way ``WAYS[way]`` says."""
    how = WAYS[way]
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with transaction(engine) as conn:  # the last measurement's users: the quota is 5,000
        conn.execute(t.users.delete().where(t.users.c.path == FLOOR_PATH))
    drivers = [
        psycopg.connect(url, options=how.options, autocommit=how.autocommit)
        for _ in range(concurrency if how.psycopg else 0)
    ]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    start = threading.Barrier(concurrency + 1)

    def work(w: int) -> None:
        start.wait()
        for i in range(first + w, first + count, concurrency):
            t0 = time.perf_counter()
            if not how.psycopg:
                create_user(engine, i, "floor")
            elif how.autocommit:
                driver_create_user_at_once(drivers[w], i)
            else:
                driver_create_user(drivers[w], i)
            latencies[w].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(concurrency)]
    for thread in threads:
        thread.start()
    client0, postgres0 = own_cpu_seconds(), postgres_cpu_seconds()
    t0 = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - t0
    # before the connections close: an ended backend's CPU is no longer counted anywhere
    cpu = {"psycopg" if how.psycopg else "selfiam's store code": own_cpu_seconds() - client0,
           "PostgreSQL": postgres_cpu_seconds() - postgres0}
    for connection in drivers:
        connection.close()
    return Floor(how.label, concurrency, [x for lat in latencies for x in lat], seconds, cpu)


def create_user(engine: Engine, i: int, node: str) -> None:
    """What CreateUser sends to the database (service/operations/users.py), and nothing else."""
    with transaction(engine) as conn:
        row = {"user_id": new_user_id(), "account_id": ACCOUNT, "name": f"floor-{i}",
               "name_lower": f"floor-{i}", "path": FLOOR_PATH, "created_at": _now(),
               "permissions_boundary_arn": None}
        ctx = SimpleNamespace(conn=conn, account_id=ACCOUNT)
        insert_within_account_quota(ctx, t.users, row, "UsersPerAccount",  # type: ignore[arg-type]
                                    USERS_QUOTA)
        feed.record(conn, [feed.key(feed.USER, row["user_id"])], node, i)
        write_record(conn, AuditRecord(
            at=_now(), request_id=f"floor-{i}", account_id=ACCOUNT,
            caller_arn=f"arn:aws:iam::{ACCOUNT}:user/alice", action="iam:CreateUser",
            resource=f"arn:aws:iam::{ACCOUNT}:user/floor-{i}", decision="allowed",
            error_code=None, source_ip="127.0.0.1", user_agent="selfiam-bench/1.0"))


#: CreateUser's two statements as selfiam sends them (``bench/write_statements.py --list``),
#: written out for psycopg alone: no SQLAlchemy, no pool.
_DRIVER_INSERT = (
    "INSERT INTO users (user_id, account_id, name, name_lower, path, created_at, "
    "permissions_boundary_arn) SELECT %s, %s, %s, %s, '/floor/', %s, NULL WHERE (SELECT n FROM "
    "account_counters WHERE account_id = %s AND kind = %s FOR UPDATE) < %s"
)
_DRIVER_COMMIT = (
    "SELECT pg_notify('selfiam_changes', 'c|floor|{i}|u:{user_id}'); INSERT INTO "
    "audit_records (at, request_id, account_id, caller_arn, action, resource, decision, "
    "error_code, source_ip, user_agent) VALUES ('{at}', 'floor-{i}', '{account}', "
    "'arn:aws:iam::{account}:user/alice', 'iam:CreateUser', "
    "'arn:aws:iam::{account}:user/{name}', 'allowed', NULL, '127.0.0.1', "
    "'selfiam-bench/1.0'); COMMIT"
)


def driver_create_user(driver: psycopg.Connection, i: int) -> None:
    """The same round trips as :func:`create_user`, straight on a psycopg connection."""
    params, commit = _driver_user(f"driver-{i}", i)
    cursor = driver.execute(_DRIVER_INSERT, params)
    assert cursor.rowcount == 1
    driver.execute(commit, prepare=False)


def driver_create_user_at_once(driver: psycopg.Connection, i: int) -> None:
    """The same statements as one query (``BEGIN; INSERT ...; COMMIT``) on an autocommit
    connection: one round trip, the least any transaction can take. Not what a server
    could send for CreateUser (the INSERT's outcome decides between the answer, a
    LimitExceeded and an EntityAlreadyExists before anything else is written), only the
    database's floor."""
    params, commit = _driver_user(f"once-{i}", i)
    insert = _DRIVER_INSERT % tuple(
        f"'{value.isoformat() if isinstance(value, datetime) else value}'" for value in params
    )
    driver.execute(f"BEGIN; {insert}; {commit}", prepare=False)


def _driver_user(name: str, i: int) -> tuple[tuple[object, ...], str]:
    """A new user ``name``: ``_DRIVER_INSERT``'s parameters and its ``_DRIVER_COMMIT``."""
    user_id, at = new_user_id(), _now()
    params = (user_id, ACCOUNT, name, name, at, ACCOUNT, counters.USERS, USERS_QUOTA)
    commit = _DRIVER_COMMIT.format(i=i, user_id=user_id, at=at.isoformat(), account=ACCOUNT,
                                   name=name)
    return params, commit


def _now() -> datetime:
    return datetime.now(UTC)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="writes per measurement")
    args = ap.parse_args(argv)
    create = next(sc for sc in scenarios(quick=False) if sc.name == "CreateUser")
    cores = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="selfiam-write-floor-"))
    url = create_database()
    moto_rates: dict[int, float] = {}
    floors: dict[tuple[str, int], Floor] = {}
    try:
        with moto_server(tmp) as moto:
            prepare(moto, 8, fill_users=False)
            for c in (1, 8):
                result = run_scenario(moto, create, c, args.count, 60)
                moto_rates[c] = result.rate
                print(f"  moto_server CreateUser c={c}  p50 {result.pct(0.5):6.3f} ms  "
                      f"{result.rate:7.1f}/s", flush=True)
        with built_api(url) as api:
            engine = api.runtime.engine
            for c in (1, 8):
                floors["http", c] = http_floor(create, args.count, c)
                print(floors["http", c].line(), flush=True)
                for n, way in enumerate(WAYS if c == 1 else ("store", "driver")):
                    first = 100_000 * n + 10_000 * c
                    database_floor(engine, 100, c, first, way)  # warm: prepared statements
                    floors[way, c] = database_floor(engine, args.count, c, first + 100, way)
                    print(floors[way, c].line(), flush=True)
    finally:
        drop_database(url)
    print()
    budget = 1000 / (3 * moto_rates[1])
    for part, what in (
        ("store", "selfiam's store code"),
        ("driver", "psycopg alone"),
        ("lossy", "psycopg alone, synchronous_commit off"),
        ("one trip", "one round trip, psycopg alone"),
    ):
        one = floors["http", 1].p50_ms + floors[part, 1].p50_ms
        print(
            f"c=1, {what}: the floor is {floors['http', 1].p50_ms:.3f} + "
            f"{floors[part, 1].p50_ms:.3f} = {one:.3f} ms per write: at most "
            f"{1000 / one:.0f} writes/s, x{1000 / one / moto_rates[1]:.2f} moto_server "
            f"({moto_rates[1]:.0f}/s); 3x needs {budget:.3f} ms per write, which leaves "
            f"{budget - one:.3f} ms for the server's own work"
        )
    for part, what in (("store", "selfiam's store code"), ("driver", "psycopg alone")):
        cpu = sum(floors["http", 8].cpu_ms.values()) + sum(floors[part, 8].cpu_ms.values())
        rate = floors[part, 8].rate
        print(
            f"c=8, {what}: the transactions alone, from 8 threads, {rate:.0f}/s, "
            f"x{rate / moto_rates[8]:.2f} moto_server ({moto_rates[8]:.0f}/s); the floor's "
            f"CPU {cpu:.3f} ms per write: {cores} cores allow at most "
            f"{cores * 1000 / cpu:.0f}/s, x{cores * 1000 / cpu / moto_rates[8]:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
