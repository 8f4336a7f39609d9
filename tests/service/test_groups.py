"""Groups and membership: CRUD, pagination, quotas, delete conflicts, policies through groups."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.service.conftest import ACCOUNT, Call, Clock, fails

from selfiam.service.caller import Caller

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"



def all_pages(call: Call, op: str, key: str, **params: Any) -> tuple[list[Any], int]:
    items: list[Any] = []
    pages = 0
    marker = None
    while True:
        page = call(op, **params, **({"Marker": marker} if marker else {}))
        pages += 1
        items += page[key]
        if not page["IsTruncated"]:
            return items, pages
        marker = page["Marker"]


def test_create_group(call: Call, clock: Clock) -> None:
    group = call("CreateGroup", GroupName="Devs", Path="/eng/")["Group"]
    assert group["GroupName"] == "Devs"
    assert group["Path"] == "/eng/"
    assert group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/eng/Devs"
    assert group["GroupId"].startswith("AGPA") and len(group["GroupId"]) == 21
    assert group["CreateDate"] == clock.now


@pytest.mark.parametrize("second", ["Devs", "devs", "DEVS"])
def test_group_names_are_unique_case_insensitively(call: Call, second: str) -> None:
    call("CreateGroup", GroupName="Devs")
    fails("EntityAlreadyExists", f"Group with name {second} already exists.",
          call, "CreateGroup", GroupName=second)


def test_get_group_with_members_paginated(call: Call) -> None:
    call("CreateGroup", GroupName="devs")
    for name in ["erin", "Bob", "alice", "dave", "Carol"]:
        call("CreateUser", UserName=name)
        call("AddUserToGroup", GroupName="devs", UserName=name)
    call("CreateUser", UserName="outsider")
    first = call("GetGroup", GroupName="DEVS", MaxItems=2)
    assert first["Group"]["GroupName"] == "devs"
    users, pages = all_pages(call, "GetGroup", "Users", GroupName="devs", MaxItems=2)
    assert [u["UserName"] for u in users] == ["alice", "Bob", "Carol", "dave", "erin"]
    assert pages == 3


def test_get_unknown_group(call: Call) -> None:
    fails("NoSuchEntity", "The group with name ghosts cannot be found.",
          call, "GetGroup", GroupName="ghosts")


def test_list_groups_paginates_and_filters(call: Call) -> None:
    for name, path in [("c", "/"), ("a", "/eng/"), ("B", "/eng/web/"), ("d", "/ops/")]:
        call("CreateGroup", GroupName=name, Path=path)
    groups, pages = all_pages(call, "ListGroups", "Groups", MaxItems=3)
    assert [g["GroupName"] for g in groups] == ["a", "B", "c", "d"] and pages == 2
    eng = call("ListGroups", PathPrefix="/eng/")["Groups"]
    assert [g["GroupName"] for g in eng] == ["a", "B"]


def test_list_groups_for_user(call: Call) -> None:
    call("CreateUser", UserName="alice")
    for name in ["z", "y", "x"]:
        call("CreateGroup", GroupName=name)
        call("AddUserToGroup", GroupName=name, UserName="alice")
    call("CreateGroup", GroupName="other")
    groups, pages = all_pages(call, "ListGroupsForUser", "Groups", UserName="ALICE", MaxItems=2)
    assert [g["GroupName"] for g in groups] == ["x", "y", "z"] and pages == 2
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "ListGroupsForUser", UserName="ghost")


def test_update_group(call: Call) -> None:
    group_id = call("CreateGroup", GroupName="devs")["Group"]["GroupId"]
    call("CreateUser", UserName="alice")
    call("AddUserToGroup", GroupName="devs", UserName="alice")
    call("UpdateGroup", GroupName="devs", NewGroupName="engineers", NewPath="/eng/")
    group = call("GetGroup", GroupName="engineers")
    assert group["Group"]["GroupId"] == group_id
    assert group["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/eng/engineers"
    assert [u["UserName"] for u in group["Users"]] == ["alice"]
    fails("NoSuchEntity", None, call, "GetGroup", GroupName="devs")


def test_update_group_errors(call: Call) -> None:
    call("CreateGroup", GroupName="devs")
    call("CreateGroup", GroupName="ops")
    fails("EntityAlreadyExists", "Group with name OPS already exists.",
          call, "UpdateGroup", GroupName="devs", NewGroupName="OPS")
    fails("NoSuchEntity", "The group with name ghosts cannot be found.",
          call, "UpdateGroup", GroupName="ghosts", NewGroupName="x")


def test_add_and_remove_members(call: Call) -> None:
    call("CreateGroup", GroupName="devs")
    call("CreateUser", UserName="alice")
    call("AddUserToGroup", GroupName="devs", UserName="alice")
    call("AddUserToGroup", GroupName="devs", UserName="ALICE")  # already a member: fine
    assert [u["UserName"] for u in call("GetGroup", GroupName="devs")["Users"]] == ["alice"]
    call("RemoveUserFromGroup", GroupName="devs", UserName="alice")
    assert call("GetGroup", GroupName="devs")["Users"] == []
    # Not a member any more: AWS answers success (recorded), as AddUserToGroup for a member.
    assert call("RemoveUserFromGroup", GroupName="devs", UserName="alice") == {}


def test_membership_of_unknown_entities(call: Call) -> None:
    call("CreateGroup", GroupName="devs")
    call("CreateUser", UserName="alice")
    fails("NoSuchEntity", "The group with name ghosts cannot be found.",
          call, "AddUserToGroup", GroupName="ghosts", UserName="alice")
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "AddUserToGroup", GroupName="devs", UserName="ghost")
    fails("NoSuchEntity", "The group with name ghosts cannot be found.",
          call, "RemoveUserFromGroup", GroupName="ghosts", UserName="alice")
    # Neither exists: AWS's recorded answer names the user.
    fails("NoSuchEntity", "The user with name ghost cannot be found.",
          call, "RemoveUserFromGroup", GroupName="ghosts", UserName="ghost")


def test_groups_per_user_quota(call: Call) -> None:
    call("CreateUser", UserName="alice")
    for i in range(11):
        call("CreateGroup", GroupName=f"g{i:02}")
    for i in range(10):
        call("AddUserToGroup", GroupName=f"g{i:02}", UserName="alice")
    fails("LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10",
          call, "AddUserToGroup", GroupName="g10", UserName="alice")
    call("AddUserToGroup", GroupName="g00", UserName="alice")  # re-adding is not a new group


def test_delete_group(call: Call) -> None:
    call("CreateGroup", GroupName="devs")
    call("DeleteGroup", GroupName="DEVS")
    fails("NoSuchEntity", None, call, "GetGroup", GroupName="devs")
    call("CreateGroup", GroupName="devs")
    fails("NoSuchEntity", "The group with name ghosts cannot be found.",
          call, "DeleteGroup", GroupName="ghosts")


INLINE = json.dumps({"Version": "2012-10-17",
                     "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}]})


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("member", "Cannot delete entity, must remove users from group first."),
        ("inline", "Cannot delete entity, must delete policies first."),
        ("attached", "Cannot delete entity, must detach all policies first."),
    ],
)
def test_delete_group_conflicts(call: Call, kind: str, message: str) -> None:
    call("CreateGroup", GroupName="devs")
    if kind == "member":
        call("CreateUser", UserName="alice")
        call("AddUserToGroup", GroupName="devs", UserName="alice")
    elif kind == "inline":
        call("PutGroupPolicy", GroupName="devs", PolicyName="p", PolicyDocument=INLINE)
    else:
        call("AttachGroupPolicy", GroupName="devs", PolicyArn=READ_ONLY)
    fails("DeleteConflict", message, call, "DeleteGroup", GroupName="devs")
    call("GetGroup", GroupName="devs")


def test_group_policies_apply_and_stop_at_once(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateGroup", GroupName="readers")
    call("AttachGroupPolicy", GroupName="readers", PolicyArn=READ_ONLY)
    call("CreateUser", UserName="bob")
    bob = caller_for("bob")
    fails("AccessDenied", None, call, "ListUsers", caller=bob)
    call("AddUserToGroup", GroupName="readers", UserName="bob")
    call("ListUsers", caller=bob)
    call("RemoveUserFromGroup", GroupName="readers", UserName="bob")
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: iam:ListUsers "
        f"on resource: arn:aws:iam::{ACCOUNT}:user/ because no identity-based policy allows "
        "the iam:ListUsers action",
        call, "ListUsers", caller=bob,
    )


def test_read_only_user_cannot_change_groups(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="bob")
    call("AttachUserPolicy", UserName="bob", PolicyArn=READ_ONLY)
    call("CreateGroup", GroupName="admins")
    bob = caller_for("bob")
    admins = f"arn:aws:iam::{ACCOUNT}:group/admins"
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: "
        f"iam:AddUserToGroup on resource: {admins} because no identity-based policy allows "
        "the iam:AddUserToGroup action",
        call, "AddUserToGroup", caller=bob, GroupName="admins", UserName="bob",
    )
    fails("AccessDenied", None, call, "CreateGroup", caller=bob, GroupName="mine")
    fails("AccessDenied", None, call, "DeleteGroup", caller=bob, GroupName="admins")
    assert call("GetGroup", caller=bob, GroupName="admins")["Users"] == []
