"""PostgreSQL reads on the event loop (store/inline_reads.py, issue 14): a cheap read runs
on the loop's thread while the database answers fast, and in the threadpool when forced
off, when a read stalled the loop, or when running it inline could wait for anything but
its own queries (no connection held yet, the pool exhausted, a suspect connection).

Counted, not timed: which thread ran each operation.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from selfiam.api.backend import RuntimeBackend
from selfiam.api.endpoint import create_api_app
from selfiam.domain.identifiers import new_request_id
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store import inline_reads, pool_health
from selfiam.store.engine import create_engine_for, transaction

from .conftest import ACCOUNT, Api, built_api

GET_USER = {"Action": "GetUser", "Version": "2010-05-08"}
EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
#: Generous: how long a test waits for a connection to be prepared (never asserted).
WAIT = 30.0


class Threads:
    """An ASGI wrapper noting the event loop's thread, and the thread each operation of
    the runtime ran on."""

    def __init__(self, api: Api) -> None:
        self.inner = create_api_app(RuntimeBackend(api.runtime))
        self.loop: int | None = None
        self.ran: list[int] = []
        runtime = api.runtime
        invoke = runtime.invoke

        def noting(*args: Any, **kwargs: Any) -> Any:
            self.ran.append(threading.get_ident())
            return invoke(*args, **kwargs)

        runtime.invoke = noting  # type: ignore[method-assign]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.loop = threading.get_ident()
        await self.inner(scope, receive, send)

    def inline(self) -> bool:
        """Whether the last operation ran on the loop's thread."""
        return self.ran[-1] == self.loop


@pytest.fixture(autouse=True)
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loaded test machine makes the loop wait (other processes run): the limits on
    those waits are tested by feeding measurements, not left to the machine's load."""
    monkeypatch.setattr(inline_reads, "WAIT_LIMIT", 60.0)
    monkeypatch.setattr(inline_reads, "SLOW_READ", 60.0)
    monkeypatch.setattr(inline_reads, "BACKOFF", 600.0)


@contextmanager
def node(postgres_url: str, mode: str | None = None) -> Iterator[tuple[Api, Threads]]:
    """A PostgreSQL node with its change feed up, served on one event loop thread;
    ``always`` leaves out the measurements (not what these tests are about), never the
    checks that the read would wait for nothing but its queries."""
    with built_api(postgres_url) as built:
        if mode is not None:
            built.runtime.inline_reads.mode = mode
        built.root("PutUserPolicy", UserName="alice", PolicyName="all", PolicyDocument=EVERYTHING)
        built.runtime.start_feed()
        threads = Threads(built)
        try:
            with TestClient(threads, base_url="http://iam.amazonaws.com") as client:
                yield Api(built.runtime, client, built.key_id, built.secret), threads
        finally:
            built.runtime.close()


def get_user(api: Api) -> None:
    status, body = api.send(GET_USER, service="iam")
    assert status == 200, body


def until_inline(api: Api, threads: Threads) -> None:
    """GetUser until one runs inline: the first ones hop while the loop's thread gets
    its connection (made on another thread)."""
    deadline = time.monotonic() + WAIT
    get_user(api)
    while not threads.inline():
        if time.monotonic() > deadline:
            raise AssertionError("no GetUser ran on the event loop")
        time.sleep(0.01)
        get_user(api)


def test_get_user_runs_on_the_loop_with_a_fast_database(postgres_url: str) -> None:
    with node(postgres_url) as (api, threads):
        assert api.runtime.inline_reads.mode == "auto"
        until_inline(api, threads)
        for _ in range(5):
            get_user(api)
            assert threads.inline()
        # writes still go to the threadpool
        status, _ = api.send({"Action": "CreateGroup", "GroupName": "g"}, service="iam")
        assert status == 200
        assert not threads.inline()


def test_never_sends_reads_to_the_threadpool(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(inline_reads.ENV, "never")
    with node(postgres_url) as (api, threads):
        assert api.runtime.inline_reads.mode == "never"
        for _ in range(5):
            get_user(api)
            assert not threads.inline()


def test_a_read_that_stalled_the_loop_sends_reads_to_the_threadpool(postgres_url: str) -> None:
    with node(postgres_url) as (api, threads):
        until_inline(api, threads)
        api.runtime.inline_reads.inline_read(inline_reads.SLOW_READ * 2, 0.0)
        for _ in range(3):
            get_user(api)
            assert not threads.inline()


def test_slow_reads_on_the_loop_send_reads_to_the_threadpool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The loop's stalls decide once reads run inline; the heartbeats decide whether they
    start to (their floor: a single fast one is enough, as scheduling only adds)."""
    monkeypatch.setattr(inline_reads, "WAIT_LIMIT", 0.001)
    monkeypatch.setattr(inline_reads, "SLOW_READ", 0.05)
    reads = inline_reads.InlineReads("auto")
    assert not reads.allows()  # nothing measured yet
    for _ in range(inline_reads.SAMPLES):
        reads.round_trip(inline_reads.NEAR * 3)
    assert not reads.allows()  # a database a network away
    reads.round_trip(inline_reads.NEAR / 4)
    assert reads.allows()
    slow = inline_reads.WAIT_LIMIT * 3
    # long, but computing: the loop did not wait on the database
    reads.inline_read(slow, slow - inline_reads.WAIT_LIMIT / 2)
    for _ in range(inline_reads.SAMPLES - 1):
        reads.inline_read(slow, 0.0001)
    assert reads.allows()  # one short wait among them: the database is near
    reads.inline_read(slow, 0.0001)
    assert not reads.allows()  # every recent read waited long
    reads.round_trip(inline_reads.NEAR / 4)
    assert not reads.allows()  # for BACKOFF seconds, whatever the heartbeat says
    forced = inline_reads.InlineReads("always")
    assert forced.allows()
    forced.inline_read(10.0, 0.0)
    assert forced.allows()


def test_an_exhausted_pool_sends_the_read_to_the_threadpool(postgres_url: str) -> None:
    """Before the loop's thread holds a connection, an inline read would check one out of
    the pool, and wait, with every request, for one a threadpool request holds. It hops
    instead, while another thread waits for the connection the loop will hold."""
    with node(postgres_url, "always") as (api, threads):
        pool = api.runtime.engine.pool
        taken = []
        while pool.checkedout() < pool.size() + pool._max_overflow:  # type: ignore[attr-defined]
            taken.append(api.runtime.engine.connect())
        try:
            for _ in range(3):
                assert not api.runtime.read_inline()  # never blocks: no checkout here
            assert api.runtime._reads._preparing  # a thread waits for a connection
        finally:
            for conn in taken:
                conn.close()
        until_inline(api, threads)
        # now the loop holds its connection: an exhausted pool no longer matters
        taken = []
        while pool.checkedout() < pool.size() + pool._max_overflow:  # type: ignore[attr-defined]
            taken.append(api.runtime.engine.connect())
        try:
            get_user(api)
            assert threads.inline()
        finally:
            for conn in taken:
                conn.close()


def test_a_suspect_connection_is_pinged_off_the_loop(postgres_url: str) -> None:
    """After the process learnt the server may have dropped its connections, the loop's
    connection is checked (and here replaced) on another thread, meanwhile reads hop."""
    with node(postgres_url, "always") as (api, threads):
        until_inline(api, threads)
        with transaction(api.runtime.engine) as conn:
            # every session of the node but this one and the change feed's
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND application_name NOT LIKE 'selfiam-feed%'"
                )
            )
        pool_health.suspect_all(api.runtime.engine)
        get_user(api)
        assert not threads.inline()
        until_inline(api, threads)


def test_a_change_through_another_node_holds_for_the_next_inline_read(
    postgres_url: str,
) -> None:
    """DESIGN rule 7 with reads on the loop: node B's cached caller and policies serve
    inline reads; node A's write returns once B applied it, so B's very next read (inline)
    is decided on the change."""
    with node(postgres_url, "always") as (b, threads):
        until_inline(b, threads)
        engine = create_engine_for(postgres_url)
        a = Runtime(engine, b.runtime.box)
        a.start_feed()
        try:
            info = RequestInfo(request_id=new_request_id(), now=a.clock())
            a.invoke(
                "iam",
                "DeleteUserPolicy",
                {"UserName": "alice", "PolicyName": "all"},
                Caller.root(ACCOUNT),
                info,
            )
            status, body = b.send(GET_USER, service="iam")
            assert threads.inline()
            assert status == 403 and "AccessDenied" in body
        finally:
            a.close()
            a.audit.flush()
            engine.dispose()


def test_an_unknown_mode_is_refused_whether_given_or_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match="unknown mode 'sometimes'"):
        inline_reads.InlineReads("sometimes")
    monkeypatch.setenv(inline_reads.ENV, "sometimes")
    with pytest.raises(ValueError, match="SELFIAM_INLINE_READS='sometimes'"):
        inline_reads.InlineReads()
    monkeypatch.setenv(inline_reads.ENV, " Never ")
    assert inline_reads.InlineReads().mode == "never"
