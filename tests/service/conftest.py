"""Service-layer fixtures: a Runtime on a migrated SQLite database, an account, and ``call``.

``call("CreateUser", UserName="alice")`` invokes an operation as the account's
root; pass ``caller=`` to act as someone else (see ``caller_for``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.arns import user_arn
from selfiam.domain.errors import AwsError
from selfiam.domain.identifiers import new_request_id
from selfiam.service.bootstrap import create_account
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store.engine import create_engine_for, transaction
from support.clock import Clock
from support.seeded import seeded_sqlite

ACCOUNT = "123456789012"
#: Read IAM; create, update and delete only your own access keys.
SELF_SERVICE_ACCESS_KEYS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey"],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
        ],
    }
)


def on_own_user(actions: list[str]) -> str:
    """A policy allowing ``actions`` only on the caller's own user."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": "arn:aws:iam::*:user/${aws:username}",
                }
            ],
        }
    )


def fails(
    code: str, message: str | None, fn: Callable[..., Any], *args: Any, **kw: Any
) -> AwsError:
    """Assert ``fn(*args, **kw)`` raises AWS error ``code`` (and ``message``, unless None)."""
    with pytest.raises(AwsError) as info:
        fn(*args, **kw)
    assert info.value.code == code, info.value.message
    if message is not None:
        assert info.value.message == message
    return info.value


def credentials_fail(
    runtime: Runtime,
    creds: Mapping[str, Any],
    scope: tuple[str, str, str],
    message: str | None,
    code: str = "InvalidClientTokenId",
) -> AwsError:
    """Assert that temporary credentials (a Credentials answer) no longer authenticate:
    AWS error ``code``, and ``message`` unless None."""
    return fails(
        code,
        message,
        runtime.authenticate_access_key,
        creds["AccessKeyId"],
        scope,
        creds["SessionToken"],
    )


def denied(user: str, action: str, resource: str) -> str:
    """AWS's AccessDenied message when no identity-based policy allows ``action``."""
    return (
        f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: {action} "
        f"on resource: {resource} because no identity-based policy allows the {action} action"
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runtime(tmp_path: Path, clock: Clock) -> Iterator[Runtime]:
    engine = create_engine_for(seeded_sqlite(tmp_path / "service.db"))
    with transaction(engine) as conn:
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


@pytest.fixture
def alice(call: Call) -> str:
    """A plain user named alice (modules needing more of her override this fixture)."""
    call("CreateUser", UserName="alice")
    return "alice"


def race(runtime: Runtime, operation: str, requests: list[dict[str, Any]], ok: str) -> list[str]:
    """Invoke ``operation`` once per request as the account's root, all released at once.

    Returns each request's outcome, sorted: ``ok`` if it succeeded, else its AWS error code.
    """
    barrier = threading.Barrier(len(requests))
    outcomes: list[str] = []
    lock = threading.Lock()

    def send(params: dict[str, Any]) -> None:
        barrier.wait()
        info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
        try:
            runtime.invoke("iam", operation, params, Caller.root(ACCOUNT), info)
            result = ok
        except AwsError as err:
            result = err.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=send, args=(params,)) for params in requests]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sorted(outcomes)
