"""Every operation selfiam answers, sent random inputs valid under botocore's model, signed by
an administrator: the answer is a 2xx or a 4xx, never a 5xx (issue 15, "Bad input").

The inputs come from ``model_inputs`` (the model's shapes, lengths, patterns, enums and
ranges, mixed with names the account has); one in-process API and database serve the whole
module, so writes of one example are the state of the next.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from tests.api.conftest import Api, built_api
from tests.api.model_inputs import operation_input, query_params
from tests.support.postgres import fresh_database

from selfiam.api.model import SERVICES, service_spec
from selfiam.domain.arns import aws_managed_policy_arn
from selfiam.service.registry import registered_operations

#: Examples per operation: about 140 operations in about 40 s (MODEL_INPUT_EXAMPLES for a
#: longer hunt).
EXAMPLES = int(os.environ.get("MODEL_INPUT_EXAMPLES", "20"))

OPERATIONS = [
    (op.service, op.name)
    for op in registered_operations()
    if op.service in SERVICES and service_spec(op.service).operation(op.name) is not None
]


@contextmanager
def _database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "postgresql":
        with fresh_database() as url:
            yield url
        return
    path: Path = tmp_path_factory.mktemp("model-valid") / "api.db"
    yield f"sqlite:///{path}"


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)],
)
def admin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """The API signed by ``operator``, an administrator whom no drawn input names, on
    SQLite and (slow) PostgreSQL, whose VARCHAR lengths SQLite does not enforce."""
    with _database(request.param, tmp_path_factory) as url, built_api(url) as api:
        api.key_id, api.secret = api.new_key("operator")
        api.root(
            "AttachUserPolicy",
            UserName="operator",
            PolicyArn=aws_managed_policy_arn("AdministratorAccess"),
        )
        api.root("CreateGroup", GroupName="admins")
        yield api


def spare_key(api: Api) -> str:
    """The id of ``operator``'s second access key (made again if an example deleted it): the
    inputs name it, so that operations on the caller's own keys get past "not found"."""
    keys = api.root("ListAccessKeys", UserName="operator")["AccessKeyMetadata"]
    spare = [k["AccessKeyId"] for k in keys if k["AccessKeyId"] != api.key_id]
    if spare:
        return str(spare[0])
    return str(api.root("CreateAccessKey", UserName="operator")["AccessKey"]["AccessKeyId"])


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[n for _, n in OPERATIONS])
def test_model_valid_input_never_gets_a_5xx(admin: Api, service: str, name: str) -> None:
    api = admin
    model = service_spec(service).model.operation_model(name)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(kwargs=operation_input(model, (spare_key(api),)))
    def check(kwargs: dict[str, Any]) -> None:
        params = query_params(model, kwargs)
        status, text = api.send(params, service=service)
        if os.environ.get("MODEL_INPUT_STATS"):
            code = text.split("<Code>", 1)[1].split("<", 1)[0] if status >= 400 else "ok"
            print(f"STAT {name} {status} {code}")
        assert status < 500, f"{name}({kwargs!r}) answered {status}: {text}"

    check()


def test_every_answered_operation_is_covered() -> None:
    assert len(OPERATIONS) > 100
