"""The pure parts of ``selfiam offboard`` and of reaching an endpoint: which errors count as
"already gone" and "not supported", and how a run reports and resumes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from selfiam.tooling.endpoint import describe, is_aws_url, is_missing, is_unsupported
from selfiam.tooling.offboard import Inventory, Step, _named_after, run


def aws_error(code: str, operation: str = "DeleteAccessKey") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"}}, operation)


def test_error_classification() -> None:
    assert is_missing(aws_error("NoSuchEntity"))
    assert not is_missing(aws_error("DeleteConflict"))
    assert is_unsupported(aws_error("InvalidAction"))
    assert is_unsupported(ResponseParserError("invalid XML received"))
    assert not is_unsupported(aws_error("AccessDenied"))
    assert not is_missing(ValueError("x")) and not is_unsupported(ValueError("x"))
    assert describe(aws_error("DeleteConflict", "DeleteUser")) == (
        "DeleteUser: DeleteConflict: DeleteConflict happened"
    )


@pytest.mark.parametrize(
    ("url", "aws"),
    [
        (None, True),
        ("https://iam.amazonaws.com", True),
        ("https://iam.us-gov.amazonaws.com", True),
        ("https://iam.cn-north-1.amazonaws.com.cn", True),
        ("http://127.0.0.1:8000", False),
        ("https://amazonaws.com.evil.example", False),
    ],
)
def test_aws_urls(url: str | None, aws: bool) -> None:
    assert is_aws_url(url) is aws


def test_only_devices_named_after_the_user_are_theirs() -> None:
    assert _named_after("arn:aws:iam::123456789012:mfa/alice", "alice")
    assert _named_after("arn:aws:iam::123456789012:mfa/team/alice", "alice")
    assert not _named_after("arn:aws:iam::123456789012:mfa/alice2", "alice")
    assert not _named_after("arn:aws:iam::123456789012:mfa/malice", "alice")


def steps(*outcomes: Exception | None) -> tuple[Inventory, list[str]]:
    called: list[str] = []

    def make(n: int, outcome: Exception | None) -> Step:
        def call() -> Any:
            called.append(f"step{n}")
            if outcome is not None:
                raise outcome

        return Step(f"thing {n}", "DeleteThing", call)

    inv = Inventory("u", exists=True, steps=[make(n, o) for n, o in enumerate(outcomes, 1)])
    return inv, called


def test_a_run_skips_what_is_already_gone_and_reports_every_step() -> None:
    inv, called = steps(None, aws_error("NoSuchEntity"), None)
    lines: list[str] = []
    after: list[int] = []
    run(inv, lines.append, after.append)
    assert called == ["step1", "step2", "step3"]
    assert lines == [
        "[1/3] DeleteThing: thing 1",
        "[2/3] already gone: thing 2",
        "[3/3] DeleteThing: thing 3",
    ]
    assert after == [1, 2, 3]


def test_any_other_error_stops_the_run() -> None:
    inv, called = steps(None, aws_error("DeleteConflict"), None)
    with pytest.raises(ClientError):
        run(inv, lambda _: None)
    assert called == ["step1", "step2"]


def test_an_unsupported_boundary_removal_is_reported_not_fatal() -> None:
    inv = Inventory(
        "u",
        exists=True,
        steps=[
            Step("permissions boundary P", "DeleteUserPermissionsBoundary", _raise_unsupported),
        ],
    )
    lines: list[str] = []
    run(inv, lines.append)
    assert lines == [
        "[1/1] not supported by this endpoint: DeleteUserPermissionsBoundary (InvalidAction); "
        "the boundary goes with the user"
    ]


def _raise_unsupported() -> None:
    raise aws_error("InvalidAction", "DeleteUserPermissionsBoundary")
