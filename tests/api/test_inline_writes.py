"""Light writes on SQLite run on the event loop when their write transaction starts at
once, and hop to the threadpool, before anything of them ran, when it would wait: for
another process's lock, or for this process's own writers (store/write_gate.py).
Observed, not timed: which requests went to the threadpool (the endpoint's
``run_in_threadpool`` is counted), on which thread a write transaction began, what was
committed and audited.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from tests.api.conftest import ACCOUNT, Api

from selfiam.api import endpoint
from selfiam.api.backend import RuntimeBackend
from selfiam.api.endpoint import create_api_app
from selfiam.service.audit import read_records
from selfiam.service.registry import find_operation
from selfiam.service.runtime import WouldWait
from selfiam.store import tables as t
from selfiam.store import write_gate
from selfiam.store.engine import READ_ONLY_OPTION, read_transaction
from selfiam.store.write_gate import gate_of

V = {"Version": "2010-05-08"}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
WAIT = 30.0  # a bound on a wait that should end at once, not a measured time


@pytest.fixture
def admin(api: Api) -> Api:
    api.root("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    return api


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The actions the endpoint sent to the threadpool, in order."""
    actions: list[str] = []
    real = endpoint.run_in_threadpool

    async def counting(fn: Callable[..., Any], *args: Any) -> Any:
        actions.append(args[3])  # ApiApp.process(http, params, cred, action, ...)
        return await real(fn, *args)

    monkeypatch.setattr(endpoint, "run_in_threadpool", counting)
    return actions


@pytest.fixture
def write_begins(admin: Api) -> Iterator[list[bool]]:
    """For each write transaction a request began (the audit writer's are its own):
    whether it began on a thread running an event loop (the endpoint's), rather than in a
    worker thread. An attempt that would have waited never begins."""
    seen: list[bool] = []
    engine = admin.runtime.engine

    def on_begin(conn: Any) -> None:
        audit_writer = threading.current_thread().name == "selfiam-audit"
        if not conn.get_execution_options().get(READ_ONLY_OPTION) and not audit_writer:
            seen.append(_on_event_loop())

    event.listen(engine, "begin", on_begin)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", on_begin)


@pytest.fixture
def tries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each ``BEGIN IMMEDIATE`` tried without waiting, and how it ended."""
    outcomes: list[str] = []
    real = write_gate._begin_at_once

    def counting(driver: sqlite3.Connection, busy_timeout_ms: int) -> None:
        try:
            real(driver, busy_timeout_ms)
        except write_gate.WouldWait:
            outcomes.append("would wait")
            raise
        outcomes.append("began")

    monkeypatch.setattr(write_gate, "_begin_at_once", counting)
    return outcomes


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _send(api: Api, params: dict[str, str]) -> str:
    admin_audit_flush(api)
    status, body = api.send({**params, **V}, service="iam")
    assert status == 200, body
    return body


def admin_audit_flush(api: Api) -> None:
    """The audit writer's own transactions are not the request's: let them end first."""
    api.runtime.audit.flush()


def _audited(api: Api, action: str, resource: str) -> list[Any]:
    api.runtime.audit.flush()
    return [r for r in read_records(api.runtime.engine, action=action) if r.resource == resource]


def _users_named(api: Api, name: str) -> int:
    with read_transaction(api.runtime.engine) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(t.users).where(t.users.c.name == name)
            ).scalar_one()
        )


def test_an_uncontended_light_write_runs_on_the_event_loop(
    admin: Api, hops: list[str], write_begins: list[bool], tries: list[str]
) -> None:
    _send(admin, {"Action": "CreateUser", "UserName": "bob"})
    body = _send(admin, {"Action": "CreateAccessKey", "UserName": "bob"})
    assert hops == []
    assert tries == ["began", "began"]
    assert write_begins == [True, True]  # each write's one transaction, on the loop
    assert _users_named(admin, "bob") == 1
    key_id = body.split("<AccessKeyId>", 1)[1].split("<", 1)[0]
    listed = admin.root("ListAccessKeys", UserName="bob")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key_id]
    bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
    for action in ("iam:CreateUser", "iam:CreateAccessKey"):
        records = _audited(admin, action, bob)
        assert [(r.decision, r.error_code) for r in records] == [("allowed", None)], action


def test_a_password_operation_never_runs_inline(
    admin: Api, hops: list[str], write_begins: list[bool], tries: list[str]
) -> None:
    admin.root("CreateUser", UserName="bob")
    _send(admin, {"Action": "CreateLoginProfile", "UserName": "bob", "Password": "A-long-pass-1"})
    _send(admin, {"Action": "UpdateLoginProfile", "UserName": "bob", "Password": "A-long-pass-2"})
    assert hops == ["CreateLoginProfile", "UpdateLoginProfile"]
    assert tries == []
    assert len(write_begins) == 3 and not any(write_begins)  # the root's CreateUser too


#: Writes whose own work is slow or grows with the request or the account: never light.
SLOW_WRITES = [
    ("iam", "CreateLoginProfile"),  # argon2
    ("iam", "UpdateLoginProfile"),
    ("iam", "ChangePassword"),
    ("iam", "EnableOutboundWebIdentityFederation"),  # generates a key pair
    ("iam", "UploadServerCertificate"),  # checks a certificate, its key and chain
    ("iam", "UploadSigningCertificate"),
    ("iam", "UploadSSHPublicKey"),
    ("iam", "CreateSAMLProvider"),  # parses metadata and its certificates
    ("iam", "DeleteUser"),  # cascades over the user's sessions
    ("iam", "DeleteRole"),  # cascades over the role's sessions
    ("selfiam", "OffboardUser"),
    ("iam", "GenerateCredentialReport"),  # as long as the account's user list
    ("iam", "GenerateServiceLastAccessedDetails"),
    ("iam", "CreatePolicy"),  # parse and validate a policy document
    ("iam", "PutUserPolicy"),
    ("iam", "CreateRole"),
    ("sts", "AssumeRoleWithWebIdentity"),  # network work before its transaction
]


@pytest.mark.parametrize(("service", "name"), SLOW_WRITES)
def test_slow_writes_are_not_light(service: str, name: str, api: Api) -> None:
    op = find_operation(service, name)
    assert op is not None and op.writes
    assert not op.light
    assert not RuntimeBackend(api.runtime).may_try_inline(service, name)


def test_a_light_write_is_not_tried_inline_on_postgresql(api: Api) -> None:
    backend = RuntimeBackend(api.runtime)
    assert backend.may_try_inline("iam", "CreateUser")
    assert not backend.may_try_inline("iam", "GetUser")  # a read: is_fast decides
    api.runtime.local_database = False
    assert not backend.may_try_inline("iam", "CreateUser")


class _OtherProcess:
    """Another process's write transaction on the same file: its own sqlite3 connection."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def hold(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


class _OwnWriter:
    """Another write transaction of this process, in another thread, holding the write
    gate (which counts its holders per thread, not per owner: any thread may release)."""

    def __init__(self, api: Api) -> None:
        gate = gate_of(api.runtime.engine)
        assert gate is not None
        self.gate = gate
        self.info: dict[str, Any] = {}

    def hold(self) -> None:
        holder = threading.Thread(target=self.gate.enter, args=(self.info,))
        holder.start()
        holder.join(WAIT)
        assert self.gate.busy

    def release(self) -> None:
        self.gate.leave(self.info)


def _write_while_locked(
    admin: Api, lock: _OtherProcess | _OwnWriter, started: Callable[[], bool]
) -> tuple[httpx.Response, httpx.Response, bool]:
    """Send a CreateUser (carol) while ``lock`` is held; once ``started()`` says the write
    is waiting, send a GetUser, then release the lock. The two answers, and whether the
    read was answered while the write still waited."""
    app = create_api_app(RuntimeBackend(admin.runtime))
    write = admin.signed({"Action": "CreateUser", "UserName": "carol", **V}, service="iam")
    read = admin.signed({"Action": "GetUser", "UserName": "alice", **V}, service="iam")

    async def scenario() -> tuple[httpx.Response, httpx.Response, bool]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://iam") as client:
            writing = asyncio.create_task(client.post("/", content=write[0], headers=write[1]))
            for _ in range(3000):
                if started():
                    break
                await asyncio.sleep(0.01)
            answered = await client.post("/", content=read[0], headers=read[1])
            still_waiting = not writing.done()
            lock.release()
            return await asyncio.wait_for(writing, WAIT), answered, still_waiting

    admin_audit_flush(admin)
    lock.hold()
    try:
        return asyncio.run(scenario())
    finally:
        if isinstance(lock, _OwnWriter) and lock.info:
            lock.release()


def _carol_created_once(admin: Api, written: httpx.Response) -> None:
    assert written.status_code == 200, written.text
    assert _users_named(admin, "carol") == 1
    records = _audited(admin, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/carol")
    assert [(r.decision, r.error_code) for r in records] == [("allowed", None)]


def test_a_write_that_waits_for_another_process_goes_to_the_threadpool(
    admin: Api, hops: list[str], write_begins: list[bool], tries: list[str]
) -> None:
    path = admin.runtime.engine.url.database
    assert path
    written, answered, still_waiting = _write_while_locked(
        admin, _OtherProcess(path), lambda: bool(hops)
    )
    assert answered.status_code == 200, answered.text
    assert still_waiting  # the loop answered a read while the write waited in a thread
    assert hops == ["CreateUser"]  # the read stayed on the loop
    assert tries == ["would wait"]  # SQLite refused the one try
    assert write_begins == [False]  # its one transaction began in the worker thread
    _carol_created_once(admin, written)


def test_a_write_that_waits_for_this_process_s_writers_waits_on_the_loop(
    admin: Api, hops: list[str], write_begins: list[bool], tries: list[str]
) -> None:
    """Hopping here would queue every later write behind it in the threadpool for as long
    as writes keep coming; the write awaits the gate instead, then runs inline."""
    lock = _OwnWriter(admin)
    gate = lock.gate
    written, answered, still_waiting = _write_while_locked(
        admin, lock, lambda: bool(gate._when_free)
    )
    assert answered.status_code == 200, answered.text
    assert still_waiting  # the loop answered a read while the write awaited the gate
    assert hops == []
    assert tries == ["began"]  # SQLite was asked once, after the gate was freed
    assert write_begins == [True]  # on the loop
    _carol_created_once(admin, written)
    assert not gate.busy and not gate._when_free


def test_a_session_that_must_not_wait_refuses_what_could_wait_later(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = api.runtime
    with runtime.write_session("iam", "CreateUser", wait=False) as conn:
        assert conn is not None and conn.in_transaction()
    # an operation that opens its transaction after network work (prepare)
    with (
        pytest.raises(WouldWait),
        runtime.write_session("sts", "AssumeRoleWithWebIdentity", wait=False),
    ):
        pass
    # its audit records could wait for the audit writer, which needs the lock it holds
    monkeypatch.setattr(type(runtime.audit), "crowded", property(lambda _: True))
    with pytest.raises(WouldWait), runtime.write_session("iam", "CreateUser", wait=False):
        pass
    gate = gate_of(runtime.engine)
    assert gate is not None and not gate.busy


def test_an_uncontended_assume_role_runs_on_the_event_loop(
    admin: Api, hops: list[str], write_begins: list[bool], tries: list[str]
) -> None:
    """AssumeRole's own work is bounded (a trust policy of a few KB, a session policy of
    at most 2,048 packed characters, a TOTP check): it is light, like the writes above."""
    trust = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
        f'"Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}}}}]}}'
    )
    admin.root("CreateRole", RoleName="deploy", AssumeRolePolicyDocument=trust)
    admin_audit_flush(admin)
    write_begins.clear()  # the root's CreateRole, run from this thread
    status, body = admin.send(
        {
            "Action": "AssumeRole",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/deploy",
            "RoleSessionName": "s1",
            "Version": "2011-06-15",
        },
        service="sts",
    )
    assert status == 200, body
    assert "<AccessKeyId>ASIA" in body
    assert hops == []
    assert tries == ["began"]
    assert write_begins == [True]
    assert find_operation("sts", "AssumeRole").light  # type: ignore[union-attr]
