"""selfiam:ReadAuditLog: the audit trail read through the service, authorized, one account."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from tests.service.conftest import ACCOUNT, Call

from selfiam.domain.errors import AwsError
from selfiam.service.audit_log import read_audit_log
from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime


def grant(call: Call, user: str, actions: list[str]) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    call("PutUserPolicy", UserName=user, PolicyName="p", PolicyDocument=json.dumps(document))


@pytest.fixture
def users(call: Call) -> None:
    for name in ("auditor", "reader"):
        call("CreateUser", UserName=name)
    call("CreateUser", UserName="staffer", Path="/staff/")
    grant(call, "auditor", ["selfiam:ReadAuditLog", "iam:CreateGroup"])
    grant(call, "reader", ["iam:Get*", "iam:List*"])


def test_read_with_filters(
    users: None, call: Call, runtime: Runtime, caller_for: Callable[[str], Caller]
) -> None:
    auditor = caller_for("auditor")
    call("CreateGroup", GroupName="ops", caller=auditor)
    runtime.audit.flush()
    records = read_audit_log(runtime, Caller.root(ACCOUNT), action="iam:CreateUser")
    assert {r.resource for r in records} >= {f"arn:aws:iam::{ACCOUNT}:user/auditor"}
    assert all(r.action == "iam:CreateUser" for r in records)
    mine = read_audit_log(runtime, auditor, user_name="auditor")
    assert [r.action for r in mine] == ["iam:CreateGroup"]
    assert read_audit_log(runtime, auditor, user_name="staffer") == []
    assert len(read_audit_log(runtime, auditor, limit=2)) == 2


def test_iam_read_only_is_not_enough(
    users: None, runtime: Runtime, caller_for: Callable[[str], Caller]
) -> None:
    with pytest.raises(AwsError) as denied:
        read_audit_log(runtime, caller_for("reader"))
    assert denied.value.code == "AccessDenied"
    assert "selfiam:ReadAuditLog on resource: *" in denied.value.message


def test_only_the_callers_account(users: None, runtime: Runtime) -> None:
    assert read_audit_log(runtime, Caller.root("999999999999")) == []


def test_bad_limits_and_names(users: None, runtime: Runtime) -> None:
    for kwargs in ({"limit": 0}, {"limit": 1001}, {"user_name": "staff/staffer"}):
        with pytest.raises(AwsError) as bad:
            read_audit_log(runtime, Caller.root(ACCOUNT), **kwargs)  # type: ignore[arg-type]
        assert bad.value.code == "ValidationError"
