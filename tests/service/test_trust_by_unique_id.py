"""A trust policy names users and roles by unique id, as IAM stores it.

[ids] IAM User Guide, "IAM role trust policy examples": "When you save the policy, AWS
transforms the ARN to a unique principal ID. This helps mitigate the risk of someone
escalating their privileges by removing and recreating the role or user. ... if you
delete the role or user, then the relationship is broken. The policy no longer applies,
even if you recreate the user or role because it does not match the principal ID stored
in the trust policy. When this happens, the principal ID shows up in the console because
AWS can no longer map it back to an ARN."
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from tests.service.conftest import ACCOUNT, Call, fails
from tests.service.test_assume_role import ALICE, ROLE, World, denied, doc, trust

from selfiam.service.runtime import Runtime
from support.clock import Clock

OPS = f"arn:aws:iam::{ACCOUNT}:role/ops"


@pytest.fixture
def world(call: Call, runtime: Runtime, clock: Clock) -> World:
    return World(call, runtime, clock)


def shown_trust(call: Call, name: str = "deploy") -> Any:
    role = call("GetRole", RoleName=name)["Role"]
    return json.loads(unquote(role["AssumeRolePolicyDocument"]))


def principal_of(document: Any) -> Any:
    return document["Statement"][0]["Principal"]["AWS"]


def recreate_alice(world: World, call: Call) -> None:
    call("DeleteAccessKey", UserName="alice", AccessKeyId=world.alice_key)
    call("DeleteUser", UserName="alice")
    call("CreateUser", UserName="alice")
    world.alice_key = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]


def test_a_recreated_user_may_not_assume(world: World, call: Call) -> None:
    """The security regression: the new alice has alice's ARN but not her id."""
    world.role(trust({"AWS": ALICE}))
    old_id = call("GetUser", UserName="alice")["User"]["UserId"]
    world.assume()  # the original alice may
    assert principal_of(shown_trust(call)) == ALICE
    recreate_alice(world, call)
    fails("AccessDenied", denied(ALICE), world.assume)
    assert principal_of(shown_trust(call)) == old_id  # [ids] the id shows up
    # Saving the policy again names the new alice.
    call("UpdateAssumeRolePolicy", RoleName="deploy", PolicyDocument=trust({"AWS": ALICE}))
    world.assume()
    assert principal_of(shown_trust(call)) == ALICE


def test_a_recreated_role_is_not_the_trusted_role(world: World, call: Call) -> None:
    """A trust policy naming a role admits that role's sessions, not a namesake's."""
    call("CreateRole", RoleName="ops", AssumeRolePolicyDocument=trust({"AWS": ALICE}))
    world.role(trust({"AWS": [OPS]}))
    ops_session = world.session(world.assume(RoleArn=OPS))
    world.assume(caller=ops_session)  # chained: ops may assume deploy
    old_ops_id = call("GetRole", RoleName="ops")["Role"]["RoleId"]
    call("DeleteRole", RoleName="ops")
    call("CreateRole", RoleName="ops", AssumeRolePolicyDocument=trust({"AWS": ALICE}))
    new_session = world.session(world.assume(RoleArn=OPS))
    fails(
        "AccessDenied",
        denied(f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/s1"),
        world.assume,
        caller=new_session,
    )
    assert principal_of(shown_trust(call)) == [old_ops_id]


def test_a_renamed_user_is_still_trusted_and_shown_by_its_new_arn(world: World, call: Call) -> None:
    world.role(trust({"AWS": ALICE}))
    call("UpdateUser", UserName="alice", NewUserName="alice2")
    world.assume()
    assert principal_of(shown_trust(call)) == f"arn:aws:iam::{ACCOUNT}:user/alice2"
    listed = call("ListRoles")["Roles"][0]["AssumeRolePolicyDocument"]
    assert principal_of(json.loads(unquote(listed))) == f"arn:aws:iam::{ACCOUNT}:user/alice2"


def test_document_is_shown_as_written_while_its_principals_exist(world: World, call: Call) -> None:
    written = trust({"AWS": [ALICE, ACCOUNT], "Service": "ec2.amazonaws.com"})
    created = world.role(written)
    assert unquote(created["AssumeRolePolicyDocument"]) == written
    assert unquote(call("GetRole", RoleName="deploy")["Role"]["AssumeRolePolicyDocument"]) == (
        written
    )


def test_details_show_the_id_of_a_deleted_user(world: World, call: Call) -> None:
    world.role(trust({"AWS": [ALICE, ACCOUNT]}))
    old_id = call("GetUser", UserName="alice")["User"]["UserId"]
    recreate_alice(world, call)
    details = call("GetAccountAuthorizationDetails", Filter=["Role"])["RoleDetailList"][0]
    assert principal_of(json.loads(unquote(details["AssumeRolePolicyDocument"]))) == [
        old_id,
        ACCOUNT,
    ]


def test_a_deny_naming_a_deleted_user_does_not_deny_a_namesake(world: World, call: Call) -> None:
    """Ids cut both ways: a Deny of the old alice no longer names the new one, as in AWS."""
    world.role(
        doc(
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"},
        )
    )
    allow = doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE})
    call("PutUserPolicy", UserName="alice", PolicyName="p", PolicyDocument=allow)
    fails("AccessDenied", denied(ALICE), world.assume)
    call("DeleteUserPolicy", UserName="alice", PolicyName="p")
    recreate_alice(world, call)
    call("PutUserPolicy", UserName="alice", PolicyName="p", PolicyDocument=allow)
    world.assume()
