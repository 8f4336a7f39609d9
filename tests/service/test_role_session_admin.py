"""selfiam:ListRoleSessions and selfiam:RevokeRoleSession: authorized by the engine on the
role's ARN (``*`` opens them, IAM grants do not), audited, and ending a session ends the
sessions chained from it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.service.conftest import ACCOUNT, Call, fails

from selfiam.service.audit import read_records
from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime

STS = ("20261127", "us-east-1", "sts")
DEPLOY = f"arn:aws:iam::{ACCOUNT}:role/deploy"
NEXT = f"arn:aws:iam::{ACCOUNT}:role/next"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def trust(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def session_caller(runtime: Runtime, answer: dict[str, Any]) -> Caller:
    creds = answer["Credentials"]
    return runtime.authenticate_access_key(creds["AccessKeyId"], STS, creds["SessionToken"])[0]


@pytest.fixture
def alice(call: Call, runtime: Runtime) -> Caller:
    call("CreateUser", UserName="alice")
    key = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    call("CreateRole", RoleName="deploy", AssumeRolePolicyDocument=trust(ALICE))
    # ``next`` trusts deploy's sessions: a chain alice -> deploy -> next.
    call("CreateRole", RoleName="next", AssumeRolePolicyDocument=trust(DEPLOY))
    return runtime.authenticate_access_key(key, STS)[0]


def assume(call: Call, caller: Caller, arn: str) -> dict[str, Any]:
    return call("AssumeRole", service="sts", caller=caller, RoleArn=arn, RoleSessionName="s")


def test_ending_a_session_ends_its_chain_and_nothing_else(
    call: Call, runtime: Runtime, alice: Caller
) -> None:
    first = assume(call, alice, DEPLOY)
    other = assume(call, alice, DEPLOY)
    deploy = session_caller(runtime, first)
    chained = assume(call, deploy, NEXT)
    grandchild_parent = session_caller(runtime, chained)
    assert grandchild_parent.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/next/s"
    listed = call("ListRoleSessions", service="selfiam", RoleName="deploy")["Sessions"]
    assert {s["AccessKeyId"] for s in listed} == {
        first["Credentials"]["AccessKeyId"],
        other["Credentials"]["AccessKeyId"],
    }
    assert {s["StartedBy"] for s in listed} == {ALICE}
    ended = call(
        "RevokeRoleSession",
        service="selfiam",
        RoleName="deploy",
        AccessKeyId=first["Credentials"]["AccessKeyId"],
    )["EndedSessions"]
    assert ended == [first["Credentials"]["AccessKeyId"], chained["Credentials"]["AccessKeyId"]]
    for answer in (first, chained):
        fails("InvalidClientTokenId", None, session_caller, runtime, answer)
    assert session_caller(runtime, other).arn.endswith("assumed-role/deploy/s")
    assert call("ListRoleSessions", service="selfiam", RoleName="next")["Sessions"] == []
    runtime.audit.flush()
    actions = [r.action for r in read_records(runtime.engine, limit=50, account_id=ACCOUNT)]
    assert "selfiam:RevokeRoleSession" in actions


def test_iam_grants_do_not_open_the_session_operations(
    call: Call, runtime: Runtime, alice: Caller
) -> None:
    key = assume(call, alice, DEPLOY)["Credentials"]["AccessKeyId"]
    call(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="iam-all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
            }
        ),
    )
    head = f"User: {ALICE} is not authorized to perform: "
    for op, params in (
        ("ListRoleSessions", {}),
        ("RevokeRoleSession", {"AccessKeyId": key}),
    ):
        err = fails(
            "AccessDenied",
            None,
            call,
            op,
            service="selfiam",
            caller=alice,
            RoleName="deploy",
            **params,
        )
        assert err.message.startswith(f"{head}selfiam:{op} on resource: {DEPLOY} because")
    assert len(call("ListRoleSessions", service="selfiam", RoleName="deploy")["Sessions"]) == 1


def test_unknown_role_or_session(call: Call, alice: Caller) -> None:
    fails(
        "NoSuchEntity",
        "The role with name nope cannot be found.",
        call,
        "ListRoleSessions",
        service="selfiam",
        RoleName="nope",
    )
    fails(
        "NoSuchEntity",
        "The role deploy has no session ASIAXXXXXXXXXXXXXXXX.",
        call,
        "RevokeRoleSession",
        service="selfiam",
        RoleName="deploy",
        AccessKeyId="ASIAXXXXXXXXXXXXXXXX",
    )
    # A session of another role cannot be ended through this one.
    key = assume(call, alice, DEPLOY)["Credentials"]["AccessKeyId"]
    fails(
        "NoSuchEntity",
        None,
        call,
        "RevokeRoleSession",
        service="selfiam",
        RoleName="next",
        AccessKeyId=key,
    )
