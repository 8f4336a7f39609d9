"""Portal fixtures: a real Runtime on SQLite (``selfiam init``'s account, admin and
SelfService group), the whole ASGI app under Starlette's TestClient, and helpers
to create members and sign them in through the real pages."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from selfiam.app import create_app
from selfiam.auth.passwords import PasswordHasher
from selfiam.auth.secretbox import SecretBox
from selfiam.domain.identifiers import new_request_id
from selfiam.service.bootstrap import initialize
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store.engine import create_engine_for
from selfiam.store.migrate import upgrade_to_head
from support.clock import Clock
from support.portal import PASSWORD, app_settings, mfa_code, post_form, sign_in


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, str]:
    """A database migrated and initialised once (``selfiam init``'s account); each test
    copies the file."""
    path = tmp_path_factory.mktemp("portal-template") / "template.db"
    engine = create_engine_for(f"sqlite:///{path}")
    upgrade_to_head(engine)
    key = SecretBox.generate_key()
    rt = Runtime(engine, SecretBox(key), clock=Clock(), hasher=_hasher())
    account = initialize(rt).account_id
    rt.audit.flush()
    engine.dispose()
    return path, key, account


@pytest.fixture
def runtime(
    tmp_path: Path, clock: Clock, template_db: tuple[Path, bytes, str]
) -> Iterator[Runtime]:
    source, key, account = template_db
    target = tmp_path / "portal.db"
    shutil.copyfile(source, target)
    engine = create_engine_for(f"sqlite:///{target}")
    rt = Runtime(engine, SecretBox(key), clock=clock, hasher=_hasher())
    rt.account_id = account  # type: ignore[attr-defined]
    yield rt
    rt.audit.flush()
    engine.dispose()


@pytest.fixture
def account(runtime: Runtime) -> str:
    return str(runtime.account_id)  # type: ignore[attr-defined]


@pytest.fixture
def root_call(runtime: Runtime, account: str) -> Callable[..., dict[str, Any]]:
    def call(operation: str, **params: Any) -> dict[str, Any]:
        info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
        return runtime.invoke("iam", operation, params, Caller.root(account), info)

    return call


@pytest.fixture
def member(root_call: Callable[..., dict[str, Any]]) -> Callable[..., str]:
    """Create a SelfService member with a console password; returns the name."""

    def make(name: str, *, reset: bool = False, group: str | None = "SelfService") -> str:
        root_call("CreateUser", UserName=name)
        if group:
            root_call("AddUserToGroup", GroupName=group, UserName=name)
        root_call(
            "CreateLoginProfile", UserName=name, Password=PASSWORD, PasswordResetRequired=reset
        )
        return name

    return make


@pytest.fixture
def client(runtime: Runtime, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(app_settings(tmp_path), runtime=runtime)
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def with_mfa(root_call: Callable[..., dict[str, Any]], clock: Clock) -> Callable[[str], str]:
    """Give a user an enabled virtual MFA device (set up by the admin); returns its seed.
    The clock moves on a step, so the enabling codes are spent."""

    def enable(name: str) -> str:
        device = root_call("CreateVirtualMFADevice", VirtualMFADeviceName=name)["VirtualMFADevice"]
        seed = device["Base32StringSeed"].decode()
        root_call(
            "EnableMFADevice",
            UserName=name,
            SerialNumber=device["SerialNumber"],
            AuthenticationCode1=mfa_code(seed, clock.now, -1),
            AuthenticationCode2=mfa_code(seed, clock.now),
        )
        clock.now += timedelta(seconds=30)
        return seed

    return enable


@pytest.fixture
def signed_in(client: TestClient, account: str, clock: Clock) -> Callable[..., TestClient]:
    """Sign ``client`` in as a user (with the MFA code when ``seed`` is given)."""

    def go(name: str, seed: str | None = None) -> TestClient:
        r = sign_in(client, account, name)
        assert r.status_code == 303, r.text
        if seed is not None:
            r = post_form(
                client, "/portal/signin/mfa", "/portal/signin/mfa", code=mfa_code(seed, clock.now)
            )
            assert r.status_code == 303, r.text
        return client

    return go
