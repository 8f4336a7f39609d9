"""STS GetAccessKeyInfo and DecodeAuthorizationMessage (STS API Reference).

GetAccessKeyInfo "does not indicate the state of the access key. The key might be
active, inactive, or deleted": selfiam answers a key's account whatever its state, and
the caller's own account for a key it does not hold, so the answer never tells whether
a key exists. DecodeAuthorizationMessage: IAM and STS encode no denials, so no message
is valid (InvalidAuthorizationMessageException), once sts:DecodeAuthorizationMessage
is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.service.conftest import ACCOUNT, Call, fails

from selfiam.service.bootstrap import create_account
from selfiam.service.caller import Caller
from selfiam.service.operations.sts_info import NOT_A_MESSAGE
from selfiam.service.runtime import Runtime
from selfiam.store.engine import transaction

OTHER = "210987654321"


def allow(call: Call, user: str, action: str) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
    }
    call("PutUserPolicy", UserName=user, PolicyName="p", PolicyDocument=json.dumps(doc))


def test_get_access_key_info(
    call: Call, runtime: Runtime, caller_for: Callable[[str], Caller]
) -> None:
    with transaction(runtime.engine) as conn:
        create_account(conn, runtime.clock(), OTHER)
    other_root = Caller.root(OTHER)
    call("CreateUser", UserName="carol", caller=other_root)
    carol_key = call("CreateAccessKey", UserName="carol", caller=other_root)["AccessKey"]
    call("CreateUser", UserName="alice")
    alice_key = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    call("UpdateAccessKey", UserName="alice", AccessKeyId=alice_key, Status="Inactive")
    alice = caller_for("alice")

    def info(key: str) -> str:
        return call("GetAccessKeyInfo", service="sts", caller=alice, AccessKeyId=key)["Account"]

    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
        "sts:GetAccessKeyInfo on resource: *",
        info,
        alice_key,
    )
    allow(call, "alice", "sts:GetAccessKeyInfo")
    assert info(carol_key["AccessKeyId"]) == OTHER
    assert info(alice_key) == ACCOUNT  # inactive: still its account
    assert info("AKIAAAAAAAAAAAAAAAAA") == ACCOUNT  # held by no one: the caller's own
    call("DeleteAccessKey", UserName="alice", AccessKeyId=alice_key)
    assert info(alice_key) == ACCOUNT


def test_decode_authorization_message(call: Call, caller_for: Callable[[str], Caller]) -> None:
    call("CreateUser", UserName="alice")
    alice = caller_for("alice")
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
        "sts:DecodeAuthorizationMessage on resource: *",
        call,
        "DecodeAuthorizationMessage",
        service="sts",
        caller=alice,
        EncodedMessage="x",
    )
    allow(call, "alice", "sts:DecodeAuthorizationMessage")
    fails(
        "InvalidAuthorizationMessageException",
        NOT_A_MESSAGE,
        call,
        "DecodeAuthorizationMessage",
        service="sts",
        caller=alice,
        EncodedMessage="rHU-pVHMSckD0OAc5l3r9",
    )
