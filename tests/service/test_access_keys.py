"""Access keys: the two-key limit (also under racing writers), secrets sealed, auth at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, select
from tests.service.conftest import ACCOUNT, SELF_SERVICE_ACCESS_KEYS, Call, Clock, fails, race

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.identifiers import new_request_id
from selfiam.service.bootstrap import create_account
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.change_feed import last_id
from selfiam.store.engine import read_transaction, transaction

SCOPE = ("20261127", "us-east-1", "iam")



def not_found(key_id: str) -> str:
    return f"The Access Key with id {key_id} cannot be found."



def test_create_access_key(call: Call, runtime: Runtime, clock: Clock, alice: str) -> None:
    key = call("CreateAccessKey", UserName=alice)["AccessKey"]
    assert key["UserName"] == "alice"
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40
    assert key["Status"] == "Active"
    assert key["CreateDate"] == clock.now
    with read_transaction(runtime.engine) as conn:
        sealed = conn.execute(
            select(t.access_keys.c.secret_ciphertext).where(
                t.access_keys.c.access_key_id == key["AccessKeyId"]
            )
        ).scalar_one()
    assert key["SecretAccessKey"].encode() not in sealed
    opened = runtime.box.open(sealed, key["AccessKeyId"].encode())
    assert opened.decode() == key["SecretAccessKey"]


def test_secret_is_never_shown_again(call: Call, alice: str) -> None:
    key = call("CreateAccessKey", UserName=alice)["AccessKey"]
    listed = call("ListAccessKeys", UserName=alice)
    assert "SecretAccessKey" not in json.dumps(listed, default=str)
    assert key["SecretAccessKey"] not in json.dumps(listed, default=str)


def test_create_access_key_for_unknown_user(call: Call) -> None:
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "CreateAccessKey", UserName="ghost")


def test_root_must_name_the_user(call: Call) -> None:
    fails("ValidationError", None, call, "CreateAccessKey")


def test_third_key_exceeds_the_quota(call: Call, alice: str) -> None:
    call("CreateAccessKey", UserName=alice)
    call("CreateAccessKey", UserName=alice)
    fails("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2",
          call, "CreateAccessKey", UserName=alice)
    assert len(call("ListAccessKeys", UserName=alice)["AccessKeyMetadata"]) == 2


def test_inactive_keys_count_toward_the_quota(call: Call, alice: str) -> None:
    k = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    call("UpdateAccessKey", UserName=alice, AccessKeyId=k, Status="Inactive")
    call("CreateAccessKey", UserName=alice)
    fails("LimitExceeded", None, call, "CreateAccessKey", UserName=alice)
    call("DeleteAccessKey", UserName=alice, AccessKeyId=k)
    call("CreateAccessKey", UserName=alice)


def test_eight_racing_creators_end_with_two_keys(runtime: Runtime, call: Call, alice: str) -> None:
    outcomes = race(runtime, "CreateAccessKey", [{"UserName": alice}] * 8, ok="created")
    assert outcomes == ["LimitExceeded"] * 6 + ["created"] * 2
    assert len(call("ListAccessKeys", UserName=alice)["AccessKeyMetadata"]) == 2


def test_list_access_keys_paginates(call: Call, alice: str) -> None:
    ids = sorted(call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
                 for _ in range(2))
    first = call("ListAccessKeys", UserName=alice, MaxItems=1)
    assert [k["AccessKeyId"] for k in first["AccessKeyMetadata"]] == ids[:1]
    assert first["IsTruncated"] is True
    second = call("ListAccessKeys", UserName=alice, MaxItems=1, Marker=first["Marker"])
    assert [k["AccessKeyId"] for k in second["AccessKeyMetadata"]] == ids[1:]
    assert second["IsTruncated"] is False
    meta = second["AccessKeyMetadata"][0]
    assert set(meta) == {"UserName", "AccessKeyId", "Status", "CreateDate"}


def test_list_access_keys_of_unknown_user(call: Call) -> None:
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "ListAccessKeys", UserName="ghost")


def test_update_and_delete_need_the_owner(call: Call, alice: str) -> None:
    call("CreateUser", UserName="bob")
    k = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    fails("NoSuchEntity", not_found(k), call, "UpdateAccessKey", UserName="bob",
          AccessKeyId=k, Status="Inactive")
    fails("NoSuchEntity", not_found(k), call, "DeleteAccessKey", UserName="bob", AccessKeyId=k)
    missing = "AKIAAAAAAAAAAAAAAAAA"
    fails("NoSuchEntity", not_found(missing), call, "DeleteAccessKey", UserName=alice,
          AccessKeyId=missing)
    assert call("ListAccessKeys", UserName=alice)["AccessKeyMetadata"][0]["Status"] == "Active"


def test_update_access_key_status(call: Call, alice: str) -> None:
    k = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    call("UpdateAccessKey", UserName=alice, AccessKeyId=k, Status="Inactive")
    assert call("ListAccessKeys", UserName=alice)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    call("UpdateAccessKey", UserName=alice, AccessKeyId=k, Status="Active")
    assert call("ListAccessKeys", UserName=alice)["AccessKeyMetadata"][0]["Status"] == "Active"


def test_deactivated_key_is_refused_at_once(call: Call, runtime: Runtime, alice: str) -> None:
    k = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    caller, _ = runtime.authenticate_access_key(k, SCOPE)
    assert caller.user_name == "alice"
    call("UpdateAccessKey", UserName=alice, AccessKeyId=k, Status="Inactive")
    fails("InvalidClientTokenId", "The security token included in the request is invalid.",
          runtime.authenticate_access_key, k, SCOPE)
    call("UpdateAccessKey", UserName=alice, AccessKeyId=k, Status="Active")
    runtime.authenticate_access_key(k, SCOPE)


def test_deleted_key_is_refused_at_once(call: Call, runtime: Runtime, alice: str) -> None:
    k = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    runtime.authenticate_access_key(k, SCOPE)
    call("DeleteAccessKey", UserName=alice, AccessKeyId=k)
    fails("InvalidClientTokenId", None, runtime.authenticate_access_key, k, SCOPE)


def test_a_new_key_keeps_every_cache_and_works_at_once(
    call: Call, runtime: Runtime, alice: str
) -> None:
    """Creating a key changes nothing any cache holds, so it publishes no change (some
    caller would reload); the new key is found on its first use all the same."""
    first = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    runtime.authenticate_access_key(first, SCOPE)
    with read_transaction(runtime.engine) as conn:
        before = last_id(conn)
    second = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    with read_transaction(runtime.engine) as conn:
        assert last_id(conn) == before
    assert runtime.authenticate_access_key(second, SCOPE)[0].user_name == "alice"
    call("DeleteAccessKey", UserName=alice, AccessKeyId=first)
    fails("InvalidClientTokenId", None, runtime.authenticate_access_key, first, SCOPE)


def test_user_manages_only_their_own_keys(
    call: Call, caller_for: Callable[[str], Caller], alice: str
) -> None:
    call("CreateUser", UserName="bob")
    call("PutUserPolicy", UserName="bob", PolicyName="self",
         PolicyDocument=SELF_SERVICE_ACCESS_KEYS)
    bob = caller_for("bob")
    own = call("CreateAccessKey", caller=bob)["AccessKey"]
    assert own["UserName"] == "bob"
    assert [k["AccessKeyId"] for k in call("ListAccessKeys", caller=bob)["AccessKeyMetadata"]] \
        == [own["AccessKeyId"]]
    call("UpdateAccessKey", caller=bob, AccessKeyId=own["AccessKeyId"], Status="Inactive")
    alice_arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: "
        f"iam:CreateAccessKey on resource: {alice_arn} because no identity-based policy "
        "allows the iam:CreateAccessKey action",
        call, "CreateAccessKey", caller=bob, UserName=alice,
    )
    alices = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    fails("AccessDenied", None, call, "DeleteAccessKey", caller=bob, UserName=alice,
          AccessKeyId=alices)
    call("DeleteAccessKey", caller=bob, AccessKeyId=own["AccessKeyId"])


def test_last_used_when_never_used(call: Call, alice: str) -> None:
    k = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    assert call("GetAccessKeyLastUsed", AccessKeyId=k) == {
        "UserName": "alice",
        "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"},
    }


def test_last_used_after_a_signed_request(
    call: Call, runtime: Runtime, clock: Clock, alice: str
) -> None:
    call("AttachUserPolicy", UserName=alice,
         PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    k = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    caller, _ = runtime.authenticate_access_key(k, SCOPE)
    call("ListUsers", caller=caller)
    runtime.audit.flush()
    last = call("GetAccessKeyLastUsed", AccessKeyId=k)["AccessKeyLastUsed"]
    assert last == {"LastUsedDate": clock.now, "ServiceName": "iam", "Region": "us-east-1"}


def test_last_used_before_the_audit_writer_wrote_it(
    call: Call, runtime: Runtime, clock: Clock, alice: str
) -> None:
    """A use waits for the audit writer's next batch; the process that saw it reports it
    at once all the same."""
    call("AttachUserPolicy", UserName=alice,
         PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    k = call("CreateAccessKey", UserName=alice)["AccessKey"]["AccessKeyId"]
    runtime.credentials.should_record_use(k, "iam", "eu-west-1", clock.now)  # as invoke does
    last = call("GetAccessKeyLastUsed", AccessKeyId=k)["AccessKeyLastUsed"]
    assert last == {"LastUsedDate": clock.now, "ServiceName": "iam", "Region": "eu-west-1"}
    with read_transaction(runtime.engine) as conn:  # not written: nothing was submitted
        stored = conn.execute(
            select(t.access_keys.c.last_used_at).where(t.access_keys.c.access_key_id == k)
        ).scalar_one()
    assert stored is None


def test_last_used_of_unknown_key(call: Call) -> None:
    """AWS answers AccessDenied, not NoSuchEntity (recorded, in these words; the API
    reference lists no NoSuchEntity for GetAccessKeyLastUsed), even to the account's root."""
    missing = "AKIAAAAAAAAAAAAAAAAA"
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform"
        f" iam:GetAccessKeyLastUsed on resource: access key {missing}",
        call,
        "GetAccessKeyLastUsed",
        AccessKeyId=missing,
    )


@pytest.fixture
def either_runtime(migrated_engine: Engine) -> Iterator[Runtime]:
    """A runtime on SQLite or PostgreSQL (where the quota check is part of the INSERT:
    service/quotas.insert_within_quota), with the account and alice."""
    clock = Clock()
    with transaction(migrated_engine) as conn:
        create_account(conn, clock(), ACCOUNT)
    rt = Runtime(migrated_engine, SecretBox(SecretBox.generate_key()), clock=clock)
    rt.invoke("iam", "CreateUser", {"UserName": "alice"}, Caller.root(ACCOUNT),
              RequestInfo(request_id=new_request_id(), now=clock()))
    yield rt
    rt.audit.flush()


@pytest.mark.parametrize("keys_before", [0, 1])
def test_racing_creators_end_with_two_keys_on_either_database(
    either_runtime: Runtime, keys_before: int
) -> None:
    for _ in range(keys_before):
        either_runtime.invoke("iam", "CreateAccessKey", {"UserName": "alice"},
                              Caller.root(ACCOUNT),
                              RequestInfo(request_id=new_request_id(), now=either_runtime.clock()))
    outcomes = race(either_runtime, "CreateAccessKey", [{"UserName": "alice"}] * 8, ok="created")
    assert outcomes == ["LimitExceeded"] * (6 + keys_before) + ["created"] * (2 - keys_before)
    with read_transaction(either_runtime.engine) as conn:
        stored = conn.execute(select(t.access_keys.c.access_key_id)).all()
    assert len(stored) == 2
