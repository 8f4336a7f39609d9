"""What bench/api_load.py's scenarios share: the two servers, their CPU, signed requests,
keep-alive connections, and running one scenario against one server at one concurrency.

Requests are SigV4-signed with botocore's ``SigV4Auth`` before the clock starts and sent
over one keep-alive ``http.client`` connection per worker thread. Client cost is kept out
of the server's figures by reading the server process tree's CPU time (utime + stime of the
server and every descendant, from ``/proc``) before and after each scenario. Before its
measured run each scenario sends a tenth of its units (at least two per connection),
unmeasured, to either server alike: what is measured is the steady state, not first uses.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.moto import MOTO_KEY  # noqa: E402
from support.moto import moto_server as start_moto_server  # noqa: E402
from support.postgres import create_database, drop_database  # noqa: E402
from support.server import live_server  # noqa: E402

REGION = "us-east-1"
VERSION = "2010-05-08"
VERSIONS = {"iam": VERSION, "sts": "2011-06-15"}
BENCH_USER = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    endpoint: str
    pid: int
    admin_key: str
    admin_secret: str
    config: str
    bench_creds: Credentials | None = None
    worker_creds: list[Credentials] = field(default_factory=list)
    #: a user trusted by the role (IAMReadOnlyAccess, no SelfService), and a session of it
    assumer_creds: Credentials | None = None
    role_arn: str = ""
    role_creds: Credentials | None = None
    #: selfiam on PostgreSQL: its database, whose new sessions (connections) are counted
    database_url: str | None = None

    def client(self) -> Any:
        return boto3.client(
            "iam", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=self.admin_key, aws_secret_access_key=self.admin_secret,
            config=Config(retries={"max_attempts": 1, "mode": "standard"},
                          max_pool_connections=16),
        )


@contextlib.contextmanager
def selfiam_server(tmp: Path, workers: int, postgres: bool = False) -> Iterator[Target]:
    env_before = os.environ.get("SELFIAM_WORKERS")
    if workers > 1:
        os.environ["SELFIAM_WORKERS"] = str(workers)  # read by `selfiam serve`
    database_url = create_database() if postgres else None
    try:
        with live_server(tmp / "selfiam", database_url) as srv:
            if workers > 1:
                _wait_for_children(srv.process.pid, workers)
            storage = ("PostgreSQL (its server's CPU not counted)" if postgres
                       else "SQLite (WAL)")
            config = (f"selfiam serve, {storage}, "
                      f"{workers} uvicorn worker process{'es' if workers > 1 else ''}")
            yield Target("selfiam", srv.endpoint, srv.process.pid, srv.admin_key_id,
                         srv.admin_secret, config, database_url=database_url)
    finally:
        if env_before is None:
            os.environ.pop("SELFIAM_WORKERS", None)
        else:
            os.environ["SELFIAM_WORKERS"] = env_before
        if database_url is not None:
            drop_database(database_url)


def _wait_for_children(pid: int, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(descendants(pid)) < count:
        time.sleep(0.1)


@contextlib.contextmanager
def moto_server(tmp: Path) -> Iterator[Target]:
    with start_moto_server(tmp / "moto.log", timeout=60) as moto:
        yield Target("moto_server", moto.endpoint, moto.process.pid, *MOTO_KEY,
                     "moto_server (Werkzeug, threaded)")


# --- CPU of a process tree -------------------------------------------------------------------


def process_stats() -> Iterator[tuple[int, bytes]]:
    """(pid, its ``/proc/PID/stat``) of every process now (one that ends meanwhile is left out)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                yield int(entry), f.read()
        except OSError:
            continue


def stat_fields(stat: bytes) -> list[bytes]:
    """A ``/proc/PID/stat``'s fields after the command name (which may hold spaces):
    ``[0]`` is field 3 (state), ``[1]`` the parent's pid, ``[11:15]`` utime, stime, cutime,
    cstime (fields 14..17)."""
    return stat[stat.rindex(b")") + 2:].split()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, stat in process_stats():
        ppid = int(stat_fields(stat)[1])
        children.setdefault(ppid, []).append(child)
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime (plus reaped children's) of ``pid`` and all its live descendants."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        total += sum(int(x) for x in stat_fields(stat)[11:15])
    return total / CLK_TCK


# --- signed requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    body: bytes
    headers: dict[str, str]


def sign(endpoint: str, creds: Credentials, params: dict[str, str],
         service: str = "iam") -> Signed:
    body = urlencode({**params, "Version": VERSIONS[service]})
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "User-Agent": "selfiam-bench/1.0",
    })
    SigV4Auth(creds, service, REGION).add_auth(req)
    headers = {k: v for k, v in req.headers.items()}
    headers["Host"] = urlsplit(endpoint).netloc
    headers["Content-Length"] = str(len(body))
    return Signed(body.encode(), headers)


class Conn:
    """One keep-alive connection (per worker thread)."""

    def __init__(self, endpoint: str) -> None:
        u = urlsplit(endpoint)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def send(self, req: Signed) -> tuple[int, bytes]:
        for attempt in (0, 1):
            try:
                self.conn.request("POST", "/", body=req.body, headers=req.headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


# --- scenarios -------------------------------------------------------------------------------

#: one unit of work on a connection; returns None on success or a short error description
Unit = Callable[[Conn], str | None]


@dataclass
class Scenario:
    name: str
    count: int
    make_units: Callable[[Target, tuple[int, int]], list[list[Unit]]]  # (count, threads)
    check_first: Callable[[bytes], str | None] | None = None


def expect(status: int, body: bytes, what: str) -> str | None:
    if status != 200:
        code = re.search(rb"<Code>([^<]*)</Code>", body)
        return f"{what}: HTTP {status} {code.group(1).decode() if code else body[:80]!r}"
    return None

@dataclass
class Result:
    server: str
    scenario: str
    concurrency: int
    units: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    first_error: str | None
    #: PostgreSQL sessions the server opened during the run (None: not on PostgreSQL)
    sessions: int | None = None
    #: CPU time of this process (the load generator) during the measured run
    client_cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.units / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / self.units if self.units else float("nan")


def warm_count(count: int, concurrency: int) -> int:
    """Units sent before a measured run: a tenth of it, at least two per connection."""
    return max(count // 10, 2 * concurrency)


def run_scenario(target: Target, scenario: Scenario, concurrency: int, count: int,
                 time_cap: float) -> Result:
    per_worker = scenario.make_units(target, (count, concurrency))  # signed before the clock
    conns = [Conn(target.endpoint) for _ in range(concurrency)]
    # warm each connection (and the server's caches) outside the measurement
    warm = sign(target.endpoint, target.bench_creds,
                {"Action": "GetUser", "UserName": BENCH_USER})
    for c in conns:
        c.send(warm)
    # then the scenario's own operation, a few times on each connection, as a steady
    # client would have sent it before (first-use costs: the caller's policies, compiled
    # statements, the server's code paths), for both servers alike
    warming = scenario.make_units(target, (warm_count(count, concurrency), concurrency))
    for conn, units in zip(conns, warming, strict=True):
        for unit in units:
            unit(conn)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    first_error: list[str] = []
    start_gate = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def work(w: int) -> None:
        conn, lat = conns[w], latencies[w]
        start_gate.wait()
        for unit in per_worker[w]:
            if time.perf_counter() > deadline[0]:
                break
            t0 = time.perf_counter()
            try:
                err = unit(conn)
            except OSError as exc:  # connection trouble counts as an error
                err = f"{type(exc).__name__}: {exc}"
            lat.append(time.perf_counter() - t0)
            if err:
                errors[w] += 1
                if not first_error:
                    first_error.append(err)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(concurrency)]
    for t in threads:
        t.start()
    sessions0 = pg_sessions(target.database_url)
    cpu0, client0 = tree_cpu_seconds(target.pid), own_cpu_seconds()
    t0 = time.perf_counter()
    deadline[0] = t0 + time_cap
    start_gate.wait()
    for t in threads:
        t.join(time_cap + 120)
    elapsed = time.perf_counter() - t0
    cpu1, client1 = tree_cpu_seconds(target.pid), own_cpu_seconds()
    for c in conns:
        c.close()
    all_lat = [x for lat in latencies for x in lat]
    sessions = pg_sessions(target.database_url)
    opened = sessions - sessions0 if sessions is not None and sessions0 is not None else None
    return Result(target.name, scenario.name, concurrency, len(all_lat), sum(errors), elapsed,
                  all_lat, cpu1 - cpu0, first_error[0] if first_error else None, opened,
                  client1 - client0)


def own_cpu_seconds() -> float:
    """utime + stime of this process (every thread of it) so far."""
    times = os.times()
    return times.user + times.system


def pg_sessions(database_url: str | None) -> int | None:
    """Sessions PostgreSQL has counted for the database (pg_stat_database.sessions, flushed
    by the server's backends about once a second: read after a pause)."""
    if database_url is None:
        return None
    import psycopg
    from sqlalchemy.engine import make_url

    time.sleep(1.5)
    url = make_url(database_url)
    with psycopg.connect(url.set(drivername="postgresql", database="postgres")
                         .render_as_string(hide_password=False)) as conn:
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s",
                           (url.database,)).fetchone()
    return int(row[0]) if row else None
