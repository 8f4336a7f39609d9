"""Concurrent writers on SQLite, live: boto3 clients against ``selfiam serve``.

A process's writers queue at its write gate (store/write_gate.py) and authenticate inside
their write transaction; several processes on one SQLite file still meet at SQLite's own
lock (``busy_timeout``). Neither may let a limit slip or lose a write: 20 concurrent
CreateAccessKey for one user end with two keys, whether they reach one process or two,
and every CreateUser sent to either process is there afterwards. Outcomes are counted,
never timed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer, another_node, live_server

pytestmark = pytest.mark.slow

CREATED = "created"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    data = tmp_path_factory.mktemp("sqlite-writers")
    with live_server(Path(data)) as a, another_node(a) as b:
        assert a.database_url.startswith("sqlite:") and b.database_url == a.database_url
        yield a, b


def _race(calls: Sequence[Callable[[], Any]]) -> dict[str, int]:
    """Run every call at once (one thread each); how many ended CREATED or with each
    error code."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            call()
            outcome = CREATED
        except ClientError as err:
            outcome = err.response["Error"]["Code"]
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return dict(Counter(outcomes))


def _key_race(servers: list[LiveServer], user: str) -> dict[str, int]:
    servers[0].client().create_user(UserName=user)
    clients = [servers[i % len(servers)].client() for i in range(20)]
    return _race([partial(c.create_access_key, UserName=user) for c in clients])


def test_twenty_concurrent_create_access_key_on_one_process_make_two_keys(
    nodes: tuple[LiveServer, LiveServer],
) -> None:
    a, _ = nodes
    assert _key_race([a], "racer-one") == {CREATED: 2, "LimitExceeded": 18}
    assert len(a.client().list_access_keys(UserName="racer-one")["AccessKeyMetadata"]) == 2


def test_twenty_concurrent_create_access_key_on_two_processes_make_two_keys(
    nodes: tuple[LiveServer, LiveServer],
) -> None:
    a, b = nodes
    assert _key_race([a, b], "racer-two") == {CREATED: 2, "LimitExceeded": 18}
    for node in (a, b):
        keys = node.client().list_access_keys(UserName="racer-two")["AccessKeyMetadata"]
        assert len(keys) == 2


def test_concurrent_creates_on_two_processes_all_land(
    nodes: tuple[LiveServer, LiveServer],
) -> None:
    a, b = nodes
    clients = [(a if i % 2 else b).client() for i in range(16)]
    calls = [
        partial(c.create_user, UserName=f"lands-{i:02d}", Path="/lands/")
        for i, c in enumerate(clients)
    ]
    assert _race(calls) == {CREATED: 16}
    for node in (a, b):
        listed = node.client().list_users(PathPrefix="/lands/")["Users"]
        assert sorted(u["UserName"] for u in listed) == [f"lands-{i:02d}" for i in range(16)]
    # and the same name from both processes at once: one wins, the other is told so
    twice = [(a if i % 2 else b).client() for i in range(6)]
    outcomes = _race([partial(c.create_user, UserName="only-once") for c in twice])
    assert outcomes == {CREATED: 1, "EntityAlreadyExists": 5}
