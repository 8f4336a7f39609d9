"""Revoking a role's older sessions with aws:TokenIssueTime.

IAM User Guide, "Revoking IAM role temporary security credentials": the console's
"Revoke active sessions" attaches to the role an inline policy named
AWSRevokeOlderSessions that denies every action to sessions whose credentials were
issued before the moment it was chosen ("DateLessThan": {"aws:TokenIssueTime": ...});
sessions issued after it keep the role's permissions. That works only if every role
session carries aws:TokenIssueTime: these cases check that it does, and is compared
as a date.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from tests.service.conftest import ACCOUNT, Call, fails
from tests.service.test_assume_role import ALICE, World, doc, trust

from selfiam.service.runtime import Runtime
from support.clock import Clock

ALLOW_LIST = doc({"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"})


def revoke_older_than(moment: str) -> str:
    """The policy the console writes (its form in AWS's doc page)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": ["*"],
                    "Resource": ["*"],
                    "Condition": {"DateLessThan": {"aws:TokenIssueTime": moment}},
                }
            ],
        }
    )


@pytest.fixture
def world(call: Call, runtime: Runtime, clock: Clock) -> World:
    return World(call, runtime, clock)


# (id, seconds after the first session that the revocation names, issued-at of the
#  session tested relative to the first session, still works?)
CASES = [
    ("issued before the cut-off: revoked", 60, 0, False),
    ("issued one second before: revoked", 60, 59, False),
    ("issued at the cut-off: works (strictly less than)", 60, 60, True),
    ("issued after the cut-off: works", 60, 120, True),
]


@pytest.mark.parametrize(
    ("cutoff", "issued", "works"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_revoke_older_sessions(
    world: World, call: Call, clock: Clock, cutoff: int, issued: int, works: bool
) -> None:
    world.role(trust({"AWS": ALICE}))
    call("PutRolePolicy", RoleName="deploy", PolicyName="read", PolicyDocument=ALLOW_LIST)
    start = clock.now
    clock.now = start + timedelta(seconds=issued)
    session = world.session(world.assume())
    assert call("ListUsers", caller=session)["Users"]
    clock.now = start + timedelta(seconds=max(cutoff, issued))
    moment = (start + timedelta(seconds=cutoff)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    call(
        "PutRolePolicy",
        RoleName="deploy",
        PolicyName="AWSRevokeOlderSessions",
        PolicyDocument=revoke_older_than(moment),
    )
    if works:
        assert call("ListUsers", caller=session)["Users"]
    else:
        fails(
            "AccessDenied",
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/deploy/s1 is not authorized to "
            f"perform: iam:ListUsers on resource: arn:aws:iam::{ACCOUNT}:user/ with an "
            "explicit deny in an identity-based policy",
            call,
            "ListUsers",
            caller=session,
        )
    # A session issued after the revocation works whatever the older ones do.
    clock.now += timedelta(seconds=1)
    fresh = world.session(world.assume(RoleSessionName="later"))
    assert call("ListUsers", caller=fresh)["Users"]
