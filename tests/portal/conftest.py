"""Portal fixtures: a real Runtime on SQLite (``selfiam init``'s account, admin and
SelfService group), the whole ASGI app under Starlette's TestClient, and helpers
to create members and sign them in through the real pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
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
from selfiam.settings import Settings
from selfiam.store.engine import create_engine_for
from selfiam.store.migrate import upgrade_to_head
from support.portal import PASSWORD


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runtime(tmp_path: Path, clock: Clock) -> Iterator[Runtime]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'portal.db'}")
    upgrade_to_head(engine)
    rt = Runtime(
        engine,
        SecretBox(SecretBox.generate_key()),
        clock=clock,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    rt.account_id = initialize(rt).account_id  # type: ignore[attr-defined]
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


def app_settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path)


@pytest.fixture
def client(runtime: Runtime, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(app_settings(tmp_path), runtime=runtime)
    with TestClient(app, base_url="http://testserver") as c:
        yield c
