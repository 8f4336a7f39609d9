"""Every operation of the pinned IAM and STS models is answered (issue 15, "Operations").

pyproject.toml pins botocore to a range whose iam and sts models were checked; this test
lists every operation of the installed models, sends each a minimal model-valid request
(its required members only, the simplest values ``model_inputs`` draws) signed by an
administrator through the in-process API, and fails for an ``InvalidAction`` (an operation
selfiam does not answer) or a 5xx. ``test_lists_the_operations_it_checks`` prints the list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
import pytest
from botocore.model import OperationModel
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.api.conftest import Api, built_api, error_code
from tests.api.model_inputs import query_params, value_of

from selfiam.api.model import SERVICES, service_spec
from selfiam.domain.arns import aws_managed_policy_arn

#: The botocore versions whose models this list was checked against (pyproject.toml).
PINNED = ((1, 44), (1, 45))

OPERATIONS = [
    (service, name) for service in SERVICES for name in service_spec(service).model.operation_names
]


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    path: Path = tmp_path_factory.mktemp("coverage") / "api.db"
    with built_api(f"sqlite:///{path}") as api:
        api.key_id, api.secret = api.new_key("operator")
        api.root(
            "AttachUserPolicy",
            UserName="operator",
            PolicyArn=aws_managed_policy_arn("AdministratorAccess"),
        )
        yield api


def minimal_input(model: OperationModel) -> st.SearchStrategy[dict[str, Any]]:
    """The model's required members only, drawn as ``model_inputs`` draws them."""
    shape = model.input_shape
    if shape is None:
        return st.just({})
    return st.fixed_dictionaries(
        {name: value_of(shape.members[name]) for name in shape.required_members}
    )


def test_the_models_are_the_pinned_ones() -> None:
    version = tuple(int(p) for p in botocore.__version__.split(".")[:2])
    assert PINNED[0] <= version < PINNED[1], botocore.__version__


def test_lists_the_operations_it_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(OPERATIONS) >= 193  # iam 181 + sts 12 in botocore 1.44.8
    with capsys.disabled():
        print(f"\n{len(OPERATIONS)} operations of botocore {botocore.__version__}:")
        for service, name in OPERATIONS:
            print(f"  {service}:{name}")


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[f"{s}:{n}" for s, n in OPERATIONS])
def test_operation_is_answered(admin: Api, service: str, name: str) -> None:
    model = service_spec(service).model.operation_model(name)

    @settings(max_examples=1, derandomize=True, database=None, deadline=None)
    @given(kwargs=minimal_input(model))
    def check(kwargs: dict[str, Any]) -> None:
        status, text = admin.send(query_params(model, kwargs), service=service)
        assert status < 500, f"{name}({kwargs!r}) answered {status}: {text}"
        code = error_code(text) if status >= 400 else None
        assert code != "InvalidAction", f"{service}:{name} is not answered: {text}"

    check()
