"""sts:GetCallerIdentity: who am I, never denied."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.service.conftest import ACCOUNT, Call

from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime

SCOPE = ("20261127", "us-east-1", "sts")


def test_root_identity(call: Call) -> None:
    assert call("GetCallerIdentity", service="sts") == {
        "UserId": ACCOUNT,
        "Account": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:root",
    }


def test_user_identity_from_an_access_key(call: Call, runtime: Runtime) -> None:
    user = call("CreateUser", UserName="alice", Path="/eng/")["User"]
    key = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    caller, _ = runtime.authenticate_access_key(key, SCOPE)
    assert call("GetCallerIdentity", service="sts", caller=caller) == {
        "UserId": user["UserId"],
        "Account": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/eng/alice",
    }


def test_never_denied_even_under_explicit_deny(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    deny_all = json.dumps({"Version": "2012-10-17",
                           "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    call("CreateUser", UserName="bob")
    call("PutUserPolicy", UserName="bob", PolicyName="deny", PolicyDocument=deny_all)
    identity = call("GetCallerIdentity", service="sts", caller=caller_for("bob"))
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/bob"
