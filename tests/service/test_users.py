"""Users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, tags and boundaries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from tests.service.conftest import ACCOUNT, SELF_SERVICE_ACCESS_KEYS, Call, Clock, denied, fails

from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import transaction

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"




# -- CreateUser -----------------------------------------------------------------------------


def test_create_user_returns_aws_shape(call: Call, clock: Clock) -> None:
    user = call("CreateUser", UserName="alice", Path="/eng/")["User"]
    assert user["UserName"] == "alice"
    assert user["Path"] == "/eng/"
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/alice"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert user["CreateDate"] == clock.now
    assert "Tags" not in user and "PermissionsBoundary" not in user


def test_create_user_default_path(call: Call) -> None:
    user = call("CreateUser", UserName="alice")["User"]
    assert user["Path"] == "/"
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"


@pytest.mark.parametrize("second", ["alice", "ALICE", "Alice"])
def test_user_names_are_unique_case_insensitively(call: Call, second: str) -> None:
    call("CreateUser", UserName="alice")
    fails("EntityAlreadyExists", f"User with name {second} already exists.",
          call, "CreateUser", UserName=second)


def test_create_user_with_tags(call: Call) -> None:
    tags = [{"Key": "team", "Value": "core"}, {"Key": "Cost", "Value": ""}]
    created = call("CreateUser", UserName="alice", Tags=tags)["User"]
    assert created["Tags"] == tags
    fetched = call("GetUser", UserName="alice")["User"]
    assert sorted(fetched["Tags"], key=lambda x: x["Key"].lower()) == [tags[1], tags[0]]


def test_create_user_duplicate_tag_keys_is_invalid_input(call: Call) -> None:
    fails(
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        call, "CreateUser", UserName="alice",
        Tags=[{"Key": "team", "Value": "a"}, {"Key": "TEAM", "Value": "b"}],
    )
    fails("NoSuchEntity", None, call, "GetUser", UserName="alice")


def test_create_user_with_boundary(call: Call) -> None:
    user = call("CreateUser", UserName="alice", PermissionsBoundary=READ_ONLY)["User"]
    assert user["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": READ_ONLY,
    }


def test_create_user_boundary_must_exist(call: Call) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/nope"
    fails("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.",
          call, "CreateUser", UserName="alice", PermissionsBoundary=arn)
    fails("InvalidInput", None, call, "CreateUser", UserName="alice",
          PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:user/bob")
    fails("NoSuchEntity", None, call, "GetUser", UserName="alice")


# -- GetUser ---------------------------------------------------------------------------------


def test_get_user_by_any_case(call: Call) -> None:
    call("CreateUser", UserName="Alice")
    assert call("GetUser", UserName="aLiCe")["User"]["UserName"] == "Alice"


def test_get_unknown_user(call: Call) -> None:
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "GetUser", UserName="ghost")


def test_get_user_without_name_is_the_caller(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="bob")
    call("AttachUserPolicy", UserName="bob", PolicyArn=READ_ONLY)
    assert call("GetUser", caller=caller_for("bob"))["User"]["UserName"] == "bob"


def test_get_user_without_name_as_root(call: Call) -> None:
    user = call("GetUser")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert user["UserId"] == ACCOUNT


# -- ListUsers -------------------------------------------------------------------------------


def test_list_users_paginates_by_name(call: Call) -> None:
    for name in ["erin", "Bob", "alice", "dave", "Carol"]:
        call("CreateUser", UserName=name)
    seen: list[str] = []
    marker: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"MaxItems": 2}
        if marker:
            params["Marker"] = marker
        page = call("ListUsers", **params)
        pages += 1
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert pages == 3
    assert seen == ["alice", "Bob", "Carol", "dave", "erin"]


def test_list_users_default_page_holds_all(call: Call) -> None:
    for i in range(3):
        call("CreateUser", UserName=f"u{i}")
    page = call("ListUsers")
    assert [u["UserName"] for u in page["Users"]] == ["u0", "u1", "u2"]
    assert page["IsTruncated"] is False


def test_list_users_path_prefix(call: Call) -> None:
    call("CreateUser", UserName="a", Path="/eng/")
    call("CreateUser", UserName="b", Path="/eng/web/")
    call("CreateUser", UserName="c", Path="/Eng/")
    call("CreateUser", UserName="d")
    names = [u["UserName"] for u in call("ListUsers", PathPrefix="/eng/")["Users"]]
    assert names == ["a", "b"]
    assert len(call("ListUsers", PathPrefix="/")["Users"]) == 4


def test_list_users_bad_marker(call: Call) -> None:
    fails("ValidationError", "Invalid Marker.", call, "ListUsers", Marker="garbage!")


# -- UpdateUser ------------------------------------------------------------------------------


def test_update_user_renames_and_moves(call: Call) -> None:
    user_id = call("CreateUser", UserName="alice")["User"]["UserId"]
    call("UpdateUser", UserName="alice", NewUserName="alicia", NewPath="/ops/")
    user = call("GetUser", UserName="alicia")["User"]
    assert user["UserId"] == user_id
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/alicia"
    fails("NoSuchEntity", None, call, "GetUser", UserName="alice")


def test_update_user_to_other_case_of_own_name(call: Call) -> None:
    call("CreateUser", UserName="alice")
    call("UpdateUser", UserName="alice", NewUserName="Alice")
    assert call("GetUser", UserName="alice")["User"]["UserName"] == "Alice"


def test_update_user_name_taken(call: Call) -> None:
    call("CreateUser", UserName="alice")
    call("CreateUser", UserName="bob")
    fails("EntityAlreadyExists", "User with name BOB already exists.",
          call, "UpdateUser", UserName="alice", NewUserName="BOB")


def test_update_unknown_user(call: Call) -> None:
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "UpdateUser", UserName="ghost", NewUserName="x")


def test_update_user_needs_permission_on_the_new_name(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="bob")
    call("CreateUser", UserName="alice")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:UpdateUser",
                       "Resource": f"arn:aws:iam::{ACCOUNT}:user/alice"}],
    }
    call("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=json.dumps(policy))
    new_arn = f"arn:aws:iam::{ACCOUNT}:user/alicia"
    fails("AccessDenied", denied("bob", "iam:UpdateUser", new_arn),
          call, "UpdateUser", caller=caller_for("bob"), UserName="alice", NewUserName="alicia")
    call("GetUser", UserName="alice")


# -- DeleteUser ------------------------------------------------------------------------------


def test_delete_user(call: Call, runtime: Runtime) -> None:
    user_id = call("CreateUser", UserName="alice", Tags=[{"Key": "k", "Value": "v"}])["User"][
        "UserId"
    ]
    call("DeleteUser", UserName="ALICE")
    fails("NoSuchEntity", None, call, "GetUser", UserName="alice")
    with transaction(runtime.engine) as conn:
        left = conn.execute(t.tags.select().where(t.tags.c.resource_id == user_id)).all()
    assert left == []
    call("CreateUser", UserName="alice")  # the name is free again


def test_delete_unknown_user(call: Call) -> None:
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "DeleteUser", UserName="ghost")


def _insert(runtime: Runtime, table: t.Table, **values: Any) -> None:
    with transaction(runtime.engine) as conn:
        conn.execute(table.insert().values(**values))


def _leave(kind: str, call: Call, runtime: Runtime, clock: Clock, user_id: str) -> None:
    now = clock.now
    if kind == "login profile":
        _insert(runtime, t.login_profiles, user_id=user_id, password_hash="$argon2id$x",
                created_at=now, password_changed_at=now)
    elif kind == "access keys":
        call("CreateAccessKey", UserName="alice")
    elif kind == "certificates":
        _insert(runtime, t.signing_certificates, certificate_id="C" * 32, account_id=ACCOUNT,
                user_id=user_id, body="PEM", fingerprint_sha256="f" * 64, status="Active",
                uploaded_at=now)
    elif kind == "ssh keys":
        _insert(runtime, t.ssh_public_keys, ssh_public_key_id="APKA" + "A" * 16,
                user_id=user_id, body="ssh-rsa AAAA", fingerprint="aa:bb", status="Active",
                uploaded_at=now)
    elif kind == "mfa":
        _insert(runtime, t.mfa_devices, serial_number=f"arn:aws:iam::{ACCOUNT}:mfa/alice",
                account_id=ACCOUNT, name="alice", name_lower="alice", path="/",
                seed_ciphertext=b"x", user_id=user_id, enabled_at=now, created_at=now)
    elif kind == "inline policy":
        call("PutUserPolicy", UserName="alice", PolicyName="p",
             PolicyDocument=SELF_SERVICE_ACCESS_KEYS)
    elif kind == "attached policy":
        call("AttachUserPolicy", UserName="alice", PolicyArn=READ_ONLY)
    elif kind == "group":
        call("CreateGroup", GroupName="devs")
        call("AddUserToGroup", GroupName="devs", UserName="alice")


CONFLICTS = {
    "login profile": "Cannot delete entity, must delete login profile first.",
    "access keys": "Cannot delete entity, must delete access keys first.",
    "certificates": "Cannot delete entity, must delete certificates first.",
    "ssh keys": "Cannot delete entity, must remove referenced objects first.",
    "mfa": "Cannot delete entity, must delete MFA device first.",
    "inline policy": "Cannot delete entity, must delete policies first.",
    "attached policy": "Cannot delete entity, must detach all policies first.",
    "group": "Cannot delete entity, must remove users from group first.",
}


@pytest.mark.parametrize("kind", list(CONFLICTS))
def test_delete_user_conflicts(
    kind: str, call: Call, runtime: Runtime, clock: Clock
) -> None:
    user_id = call("CreateUser", UserName="alice")["User"]["UserId"]
    _leave(kind, call, runtime, clock, user_id)
    fails("DeleteConflict", CONFLICTS[kind], call, "DeleteUser", UserName="alice")
    assert call("GetUser", UserName="alice")["User"]["UserId"] == user_id


def test_delete_user_reports_leftovers_in_aws_documented_order(
    call: Call, runtime: Runtime, clock: Clock
) -> None:
    user_id = call("CreateUser", UserName="alice")["User"]["UserId"]
    for kind in reversed(list(CONFLICTS)):
        _leave(kind, call, runtime, clock, user_id)
    fails("DeleteConflict", CONFLICTS["login profile"], call, "DeleteUser", UserName="alice")


# -- Tags ------------------------------------------------------------------------------------


def test_tag_untag_list(call: Call) -> None:
    call("CreateUser", UserName="alice")
    call("TagUser", UserName="alice", Tags=[{"Key": "Team", "Value": "a"},
                                           {"Key": "env", "Value": "prod"}])
    call("TagUser", UserName="alice", Tags=[{"Key": "team", "Value": "b"}])
    assert call("ListUserTags", UserName="alice")["Tags"] == [
        {"Key": "env", "Value": "prod"},
        {"Key": "team", "Value": "b"},
    ]
    call("UntagUser", UserName="alice", TagKeys=["ENV", "absent"])
    assert call("ListUserTags", UserName="alice")["Tags"] == [{"Key": "team", "Value": "b"}]


def test_list_user_tags_paginates(call: Call) -> None:
    call("CreateUser", UserName="alice",
         Tags=[{"Key": f"k{i}", "Value": str(i)} for i in range(5)])
    first = call("ListUserTags", UserName="alice", MaxItems=3)
    assert [t["Key"] for t in first["Tags"]] == ["k0", "k1", "k2"] and first["IsTruncated"]
    rest = call("ListUserTags", UserName="alice", MaxItems=3, Marker=first["Marker"])
    assert [t["Key"] for t in rest["Tags"]] == ["k3", "k4"] and not rest["IsTruncated"]


def test_tag_user_limit_is_fifty(call: Call) -> None:
    call("CreateUser", UserName="alice",
         Tags=[{"Key": f"k{i}", "Value": ""} for i in range(49)])
    call("TagUser", UserName="alice", Tags=[{"Key": "K0", "Value": "overwrite"},
                                           {"Key": "new", "Value": ""}])
    fails("LimitExceeded", "Cannot exceed quota for TagsPerUser: 50",
          call, "TagUser", UserName="alice", Tags=[{"Key": "one-more", "Value": ""}])
    assert len(call("ListUserTags", UserName="alice")["Tags"]) == 50


def test_tag_unknown_user(call: Call) -> None:
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "TagUser", UserName="ghost", Tags=[{"Key": "k", "Value": "v"}])
    fails("NoSuchEntity", None, call, "ListUserTags", UserName="ghost")
    fails("NoSuchEntity", None, call, "UntagUser", UserName="ghost", TagKeys=["k"])


def test_tags_become_principal_tags_at_once(call: Call, runtime: Runtime) -> None:
    call("CreateUser", UserName="alice")
    key_id = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    scope = ("20261127", "us-east-1", "iam")
    assert runtime.authenticate_access_key(key_id, scope)[0].principal_tags == ()
    call("TagUser", UserName="alice", Tags=[{"Key": "team", "Value": "core"}])
    assert runtime.authenticate_access_key(key_id, scope)[0].principal_tags == (("team", "core"),)


# -- Permissions boundaries -----------------------------------------------------------------


def test_put_and_delete_boundary(call: Call) -> None:
    call("CreateUser", UserName="alice")
    call("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=READ_ONLY)
    user = call("GetUser", UserName="alice")["User"]
    assert user["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ_ONLY
    call("DeleteUserPermissionsBoundary", UserName="alice")
    assert "PermissionsBoundary" not in call("GetUser", UserName="alice")["User"]


def test_listings_leave_out_boundary_and_tags(call: Call) -> None:
    """AWS: ListUsers (and GetGroup's members) return a subset of the User structure,
    without PermissionsBoundary and Tags; GetUser shows them."""
    call("CreateUser", UserName="alice", PermissionsBoundary=READ_ONLY,
         Tags=[{"Key": "team", "Value": "core"}])
    call("CreateGroup", GroupName="devs")
    call("AddUserToGroup", GroupName="devs", UserName="alice")
    listed = [u for u in call("ListUsers")["Users"] if u["UserName"] == "alice"]
    members = call("GetGroup", GroupName="devs")["Users"]
    assert len(listed) == 1 and len(members) == 1
    for user in (*listed, *members):
        assert set(user) == {"Path", "UserName", "UserId", "Arn", "CreateDate"}
    full = call("GetUser", UserName="alice")["User"]
    assert full["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ_ONLY
    assert full["Tags"] == [{"Key": "team", "Value": "core"}]


def test_put_boundary_errors(call: Call) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:policy/missing"
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "PutUserPermissionsBoundary", UserName="ghost", PermissionsBoundary=READ_ONLY)
    call("CreateUser", UserName="alice")
    fails("NoSuchEntity", f"Policy {missing} does not exist or is not attachable.",
          call, "PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=missing)


def test_boundary_limits_the_user_at_once(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="bob")
    call("AttachUserPolicy", UserName="bob",
         PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    bob = caller_for("bob")
    call("CreateUser", caller=bob, UserName="carol")
    call("PutUserPermissionsBoundary", UserName="bob", PermissionsBoundary=READ_ONLY)
    fails("AccessDenied", None, call, "CreateUser", caller=bob, UserName="dave")
    call("ListUsers", caller=bob)


# -- Authorization ---------------------------------------------------------------------------


def test_read_only_user_cannot_create_users(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="bob")
    call("AttachUserPolicy", UserName="bob", PolicyArn=READ_ONLY)
    bob = caller_for("bob")
    carol = f"arn:aws:iam::{ACCOUNT}:user/carol"
    fails("AccessDenied", denied("bob", "iam:CreateUser", carol),
          call, "CreateUser", caller=bob, UserName="carol")
    assert [u["UserName"] for u in call("ListUsers", caller=bob)["Users"]] == ["bob"]
    fails("NoSuchEntity", None, call, "GetUser", caller=bob, UserName="carol")


def test_self_service_user_cannot_create_or_delete_users(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="bob")
    call("CreateUser", UserName="alice")
    call("PutUserPolicy", UserName="bob", PolicyName="self",
         PolicyDocument=SELF_SERVICE_ACCESS_KEYS)
    bob = caller_for("bob")
    carol = f"arn:aws:iam::{ACCOUNT}:user/carol"
    fails("AccessDenied", denied("bob", "iam:CreateUser", carol),
          call, "CreateUser", caller=bob, UserName="carol")
    fails("AccessDenied", None, call, "DeleteUser", caller=bob, UserName="alice")
    fails("AccessDenied", None, call, "TagUser", caller=bob, UserName="bob",
          Tags=[{"Key": "k", "Value": "v"}])


def test_no_such_entity_only_after_authorization(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="bob")
    call("AttachUserPolicy", UserName="bob", PolicyArn=READ_ONLY)
    ghost = f"arn:aws:iam::{ACCOUNT}:user/ghost"
    fails("AccessDenied", denied("bob", "iam:DeleteUser", ghost),
          call, "DeleteUser", caller=caller_for("bob"), UserName="ghost")


def test_resource_tag_conditions_see_the_users_tags(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Action": "iam:TagUser", "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "core"}},
        }],
    }
    call("CreateUser", UserName="bob")
    call("PutUserPolicy", UserName="bob", PolicyName="p", PolicyDocument=json.dumps(policy))
    call("CreateUser", UserName="in", Tags=[{"Key": "team", "Value": "core"}])
    call("CreateUser", UserName="out", Tags=[{"Key": "team", "Value": "web"}])
    bob = caller_for("bob")
    call("TagUser", caller=bob, UserName="in", Tags=[{"Key": "x", "Value": "1"}])
    fails("AccessDenied", None, call, "TagUser", caller=bob, UserName="out",
          Tags=[{"Key": "x", "Value": "1"}])


def test_deleted_user_is_refused_at_once(call: Call, runtime: Runtime, clock: Clock) -> None:
    call("CreateUser", UserName="alice")
    key_id = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    scope = ("20261127", "us-east-1", "iam")
    runtime.authenticate_access_key(key_id, scope)
    call("DeleteAccessKey", UserName="alice", AccessKeyId=key_id)
    call("DeleteUser", UserName="alice")
    clock.now += timedelta(seconds=1)
    fails("InvalidClientTokenId", None, runtime.authenticate_access_key, key_id, scope)
