"""What one API request costs selfiam's process in CPU, in-process, without HTTP.

Run: ``.venv/bin/python bench/request_cpu.py CreateUser`` (scenarios: GetUser, CreateUser,
KeyPair: a CreateAccessKey and its DeleteAccessKey; ``--postgres`` for a new database on the
test suite's PostgreSQL server; ``--profile`` prints cProfile's top functions).

The real ASGI API (tests/api/conftest.py's ``built_api``: the endpoint, SigV4, a real
Runtime with its change feed) is called on one asyncio loop as uvicorn would call it, so
the dispatch is the served one (cheap reads and light writes on the loop, the rest in the
threadpool). Requests are signed by botocore outside the measured calls; the figure is
the process's CPU (every thread's, ``time.process_time``) spent inside the app per unit.
``--inline`` runs every request on the loop's thread, so that cProfile (which sees one
thread) sees all of it. No peer runs here: bench/api_load.py compares with moto_server
over HTTP; this one splits selfiam's own share finely enough to profile it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tests.api.conftest import Api, built_api  # noqa: E402

from support.postgres import create_database, drop_database  # noqa: E402

V = {"Version": "2010-05-08"}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
SCENARIOS = ("GetUser", "CreateUser", "KeyPair")


class Caller:
    """Sends signed requests straight to the ASGI app and counts the CPU they cost."""

    def __init__(self, api: Api, profile: cProfile.Profile | None) -> None:
        self.api = api
        self.app: Callable[..., Any] = api.client.app  # type: ignore[assignment]
        self.profile = profile
        self.cpu = 0.0

    async def send(self, params: dict[str, str]) -> bytes:
        data, headers = self.api.signed({**params, **V}, service="iam")
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw.append((b"content-length", str(len(data)).encode()))
        scope = {"type": "http", "method": "POST", "path": "/", "raw_path": b"/",
                 "query_string": b"", "headers": raw, "client": ("127.0.0.1", 1),
                 "scheme": "http"}
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": data, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        if self.profile is not None:
            self.profile.enable()
        t0 = time.process_time()
        await self.app(scope, receive, send)
        self.cpu += time.process_time() - t0
        if self.profile is not None:
            self.profile.disable()
        if sent[0]["status"] != 200:
            raise RuntimeError(f"{params['Action']}: {sent[0]['status']} {sent[1]['body'][:200]!r}")
        body: bytes = sent[1]["body"]
        return body


async def run(caller: Caller, scenario: str, n: int) -> None:
    for _ in range(50):  # warm the caches, outside the count
        await caller.send({"Action": "GetUser", "UserName": "k"})
    caller.cpu = 0.0
    for i in range(n):
        if scenario == "GetUser":
            await caller.send({"Action": "GetUser", "UserName": "k"})
        elif scenario == "CreateUser":
            await caller.send({"Action": "CreateUser", "UserName": f"u{i}"})
        else:
            body = await caller.send({"Action": "CreateAccessKey", "UserName": "k"})
            key_id = body.split(b"<AccessKeyId>", 1)[1].split(b"<", 1)[0].decode()
            await caller.send({"Action": "DeleteAccessKey", "UserName": "k",
                               "AccessKeyId": key_id})


def measure(url: str, scenario: str, n: int, inline: bool, profile: bool) -> None:
    with built_api(url) as api:
        api.root("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
        api.root("CreateUser", UserName="k")
        api.runtime.start_feed()
        profiler = cProfile.Profile() if profile else None
        caller = Caller(api, profiler)
        if inline:
            backend = caller.app.backend  # type: ignore[attr-defined]
            backend.is_fast = lambda *_: True
        try:
            asyncio.run(run(caller, scenario, n))
        finally:
            api.runtime.close()
        print(f"{scenario}: {1000 * caller.cpu / n:.3f} ms of CPU per unit "
              f"({n} units, {url.split(':', 1)[0]}{', all on the loop' if inline else ''})")
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", choices=SCENARIOS)
    ap.add_argument("-n", type=int, default=1000, help="units (default 1000)")
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--inline", action="store_true", help="every request on the loop's thread")
    ap.add_argument("--profile", action="store_true", help="cProfile (use with --inline)")
    args = ap.parse_args(argv)
    if args.postgres:
        url = create_database()
        try:
            measure(url, args.scenario, args.n, args.inline, args.profile)
        finally:
            drop_database(url)
    else:
        with tempfile.TemporaryDirectory(prefix="selfiam-request-cpu-") as tmp:
            measure(f"sqlite:///{tmp}/cpu.db", args.scenario, args.n, args.inline, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
