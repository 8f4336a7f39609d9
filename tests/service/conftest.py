"""Service-layer fixtures: a Runtime on a migrated SQLite database, an account, and ``call``.

``call("CreateUser", UserName="alice")`` invokes an operation as the account's
root; pass ``caller=`` to act as someone else (see ``caller_for``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.arns import user_arn
from selfiam.domain.identifiers import new_request_id
from selfiam.service.bootstrap import create_account, seed_aws_managed_policies
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store.engine import create_engine_for, transaction
from selfiam.store.migrate import upgrade_to_head

ACCOUNT = "123456789012"


class Clock:
    """A settable clock, so time-based behaviour is testable."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runtime(tmp_path: Path, clock: Clock) -> Iterator[Runtime]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'service.db'}")
    upgrade_to_head(engine)
    with transaction(engine) as conn:
        seed_aws_managed_policies(conn)
        create_account(conn, clock(), ACCOUNT)
    rt = Runtime(engine, SecretBox(SecretBox.generate_key()), clock=clock)
    yield rt
    rt.audit.flush()
    engine.dispose()


Call = Callable[..., dict[str, Any]]


@pytest.fixture
def call(runtime: Runtime) -> Call:
    def invoke(
        operation: str, *, caller: Caller | None = None, service: str = "iam", **params: Any
    ) -> dict[str, Any]:
        info = RequestInfo(request_id=new_request_id(), now=runtime.clock(), service=service)
        return runtime.invoke(service, operation, params, caller or Caller.root(ACCOUNT), info)

    return invoke


@pytest.fixture
def caller_for(call: Call) -> Callable[[str], Caller]:
    """The Caller a user would be when signing with one of their access keys."""

    def make(user_name: str) -> Caller:
        user = call("GetUser", UserName=user_name)["User"]
        return Caller(
            account_id=ACCOUNT,
            arn=user_arn(ACCOUNT, user_name, user["Path"]),
            user_id=user["UserId"],
            user_name=user["UserName"],
            access_key_id="AKIATESTTESTTESTTEST",
        )

    return make
