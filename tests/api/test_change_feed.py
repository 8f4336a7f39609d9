"""The change feed (DESIGN rule 7, issue 14): a cached caller costs no query beyond its
operation's own on PostgreSQL, invalidation is per principal, and a change made through
one node is enforced by another on its very next request, even while that node's feed is
down (it then reads the database) and after it came back.

Each node is an in-process API (the real ASGI endpoint, requests signed by botocore) with
its own Runtime on one shared database, as two ``selfiam serve`` processes would be.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text
from starlette.testclient import TestClient

from selfiam.api.backend import RuntimeBackend
from selfiam.api.endpoint import create_api_app
from selfiam.service.runtime import Runtime
from selfiam.store.engine import create_engine_for
from support.postgres import fresh_database

from .conftest import ACCOUNT, Api, built_api, error_code

GET_USER = {"Action": "GetUser", "Version": "2010-05-08"}
EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
#: Generous: how long a test waits for a feed to come up (never asserted as a duration).
FEED_WAIT = 30.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + FEED_WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.01)


def iam(api: Api, params: dict[str, str], **kw: Any) -> tuple[int, str]:
    return api.send({**params, "Version": "2010-05-08"}, service="iam", **kw)


def admin(api: Api, user: str) -> tuple[str, str]:
    """A new user allowed everything, and an access key of theirs."""
    key = api.new_key(user)
    api.root("PutUserPolicy", UserName=user, PolicyName="all", PolicyDocument=EVERYTHING)
    return key


@contextmanager
def feed_node(url: str, first: Api | None = None) -> Iterator[Api]:
    """A node on the database at ``url`` with its change feed listening: the first one
    creates the account (``built_api``), another shares it (``first``'s sealing key)."""
    if first is None:
        with built_api(url) as api:
            api.runtime.start_feed()
            try:
                yield api
            finally:
                api.runtime.close()
        return
    engine = create_engine_for(url)
    runtime = Runtime(engine, first.runtime.box)
    runtime.start_feed()
    app = create_api_app(RuntimeBackend(runtime))
    try:
        yield Api(runtime, TestClient(app, base_url="http://iam.amazonaws.com"), "", "")
    finally:
        runtime.close()
        runtime.audit.flush()
        engine.dispose()


def trusted(*nodes: Api) -> None:
    """Wait until every node's feed is up and has heard every other node."""
    for node in nodes:
        wait_until(node.runtime.invalidation.trusted, "the change feed to come up")
    for node in nodes:
        others = {n.runtime.invalidation.node for n in nodes if n is not node}
        heard = node.runtime.invalidation._peers
        wait_until(lambda o=others, h=heard: o <= set(h), "peers' heartbeats")


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


# -- (1) no query but the operation's own for a cached caller --------------------------------


def test_a_cached_caller_sends_only_its_operations_queries_on_postgresql(pg_url: str) -> None:
    """Counted at the driver (every cursor's execute: SQLAlchemy's and the prepared
    hot-path reads'), so a pool ping or a version read would show."""
    sent: list[str] = []
    counting = [False]

    class Counting(psycopg.Cursor[Any]):
        def execute(self, query: Any, *args: Any, **kw: Any) -> Any:
            if counting[0]:
                sent.append(" ".join(str(query).split()))
            return super().execute(query, *args, **kw)

    with feed_node(pg_url) as api:
        key_id, secret = admin(api, "ann")
        engine = api.runtime.engine
        engine.dispose()  # from now on every pooled connection counts

        @event.listens_for(engine, "connect")
        def _counting(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.cursor_factory = Counting

        trusted(api)
        for _ in range(2):  # loads and caches the caller and its policies
            assert iam(api, GET_USER, key_id=key_id, secret=secret)[0] == 200
        api.runtime.audit.flush()
        loads = api.runtime.credentials.loads, api.runtime.policy_loads
        counting[0] = True
        status, body = iam(api, GET_USER, key_id=key_id, secret=secret)
        counting[0] = False
        assert status == 200 and "<UserName>ann</UserName>" in body
        assert (api.runtime.credentials.loads, api.runtime.policy_loads) == loads
        # the batching audit writer's own work runs in its thread, whenever it wakes
        operation = [s for s in sent if "audit_records" not in s]
        # GetUser's own read, the user and its tags in one query: no version, no ping, no
        # BEGIN
        assert len(operation) == 1, sent
        assert operation[0].startswith("SELECT users.")
        assert "FROM users LEFT OUTER JOIN tags" in operation[0]


# -- (4) a write to one user leaves another's cached entries alone ---------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_write_to_one_user_does_not_reload_another(
    backend: str, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'feed.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    with feed_node(url) as api:
        alice = admin(api, "ann")
        bob = admin(api, "bob")
        if backend == "postgresql":
            trusted(api)
        for key_id, secret in (alice, bob):
            assert iam(api, GET_USER, key_id=key_id, secret=secret)[0] == 200
        loads = api.runtime.credentials.loads, api.runtime.policy_loads
        api.root("TagUser", UserName="ann", Tags=[{"Key": "team", "Value": "red"}])
        api.root("PutUserPolicy", UserName="ann", PolicyName="more", PolicyDocument=EVERYTHING)
        api.root("CreateUser", UserName="carol")
        assert iam(api, GET_USER, key_id=bob[0], secret=bob[1])[0] == 200
        assert (api.runtime.credentials.loads, api.runtime.policy_loads) == loads  # bob's kept
        assert iam(api, GET_USER, key_id=alice[0], secret=alice[1])[0] == 200
        assert api.runtime.credentials.loads == loads[0] + 1  # alice's reloaded
        assert api.runtime.policy_loads == loads[1] + 1


# -- (2) and (3) two nodes on PostgreSQL ------------------------------------------------------


def test_revocations_through_one_node_are_enforced_by_the_other_at_once(pg_url: str) -> None:
    with feed_node(pg_url) as a, feed_node(pg_url, a) as b:
        key_id, secret = admin(a, "ann")
        trusted(a, b)
        assert iam(b, GET_USER, key_id=key_id, secret=secret)[0] == 200  # cached on b
        a.root("UpdateAccessKey", UserName="ann", AccessKeyId=key_id, Status="Inactive")
        status, body = iam(b, GET_USER, key_id=key_id, secret=secret)
        assert (status, error_code(body)) == (403, "InvalidClientTokenId")

        a.root("UpdateAccessKey", UserName="ann", AccessKeyId=key_id, Status="Active")
        assert iam(b, GET_USER, key_id=key_id, secret=secret)[0] == 200
        a.root("DeleteUserPolicy", UserName="ann", PolicyName="all")
        status, body = iam(b, GET_USER, key_id=key_id, secret=secret)
        assert (status, error_code(body)) == (403, "AccessDenied")


def test_a_node_whose_feed_was_cut_stays_correct_and_recovers(pg_url: str) -> None:
    with feed_node(pg_url) as a, feed_node(pg_url, a) as b:
        key_id, secret = admin(a, "ann")
        spare_id, spare_secret = admin(a, "bob")
        trusted(a, b)
        for key, sec in ((key_id, secret), (spare_id, spare_secret)):
            assert iam(b, GET_USER, key_id=key, secret=sec)[0] == 200  # cached on b
        feed = b.runtime.invalidation
        pid = feed.listener_pid()
        assert pid is not None
        resets = feed.resets
        with a.runtime.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        # While b's feed is down (or coming back), a revocation through a is enforced by b.
        a.root("DeleteUserPolicy", UserName="ann", PolicyName="all")
        status, body = iam(b, GET_USER, key_id=key_id, secret=secret)
        assert (status, error_code(body)) == (403, "AccessDenied")
        a.root("DeleteAccessKey", UserName="ann", AccessKeyId=key_id)
        status, body = iam(b, GET_USER, key_id=key_id, secret=secret)
        assert (status, error_code(body)) == (403, "InvalidClientTokenId")

        # b reconnects, forgets what it held, and caches again.
        wait_until(lambda: feed.resets > resets and feed.trusted(), "b's feed to come back")
        trusted(a, b)
        assert iam(b, GET_USER, key_id=spare_id, secret=spare_secret)[0] == 200
        loads = b.runtime.credentials.loads
        assert iam(b, GET_USER, key_id=spare_id, secret=spare_secret)[0] == 200
        assert b.runtime.credentials.loads == loads
        # and still hears a's changes
        a.root("DeleteAccessKey", UserName="bob", AccessKeyId=spare_id)
        status, body = iam(b, GET_USER, key_id=spare_id, secret=spare_secret)
        assert (status, error_code(body)) == (403, "InvalidClientTokenId")


def test_without_a_feed_every_request_reads_the_database(pg_url: str) -> None:
    """A PostgreSQL node that never listened (or lost its feed) trusts no cache."""
    with built_api(pg_url) as api:
        key_id, secret = admin(api, "ann")
        for _ in range(2):
            assert iam(api, GET_USER, key_id=key_id, secret=secret)[0] == 200
        loads = api.runtime.credentials.loads
        assert iam(api, GET_USER, key_id=key_id, secret=secret)[0] == 200
        assert api.runtime.credentials.loads == loads + 1
        assert ACCOUNT


def test_a_new_listener_lists_the_nodes_that_listened_before_it(pg_url: str) -> None:
    """A peer may hold a lease from a heartbeat sent before this node LISTENed, one it
    never hears: a young node's writes wait for the nodes PostgreSQL listed right after
    its LISTEN (service/invalidation.py, guarantee 3), asked once, not after every write."""
    engine = create_engine_for(pg_url)
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    engine.dispose()
    earlier = psycopg.connect(*args, **{**kwargs, "application_name": "selfiam-feed:earlier"})
    try:
        with feed_node(pg_url) as api:
            feed = api.runtime.invalidation
            wait_until(feed.trusted, "the change feed to come up")
            assert "earlier" in feed._listed and feed.node not in feed._listed
    finally:
        earlier.close()
