"""STS GetFederationToken and federated users as callers.

[gft] STS API Reference, GetFederationToken: called with an IAM user's long-term
  credentials; "the session permissions are the intersection of the IAM user policies
  and the session policies that you pass"; "If you do not pass a policy to this
  operation, the resulting federated user session has no permissions"; the credentials
  cannot call IAM operations, nor STS operations other than GetCallerIdentity;
  DurationSeconds 900-129,600, 43,200 by default.
[keys] "AWS global condition context keys": a federated user's aws:userid is
  ACCOUNT:NAME and aws:PrincipalType FederatedUser.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.service.conftest import ACCOUNT, Call, credentials_fail, fails
from tests.service.test_assume_role import STS, World, doc

from selfiam.service.authz import decide, request_context
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.context import OperationContext
from selfiam.service.offboarding import offboard_user
from selfiam.service.runtime import Runtime
from support.clock import Clock

FED = f"arn:aws:sts::{ACCOUNT}:federated-user/bob"
INVALID = "The security token included in the request is invalid."
S3_ALL = doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
GFT = doc({"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"})


@pytest.fixture
def world(call: Call, runtime: Runtime, clock: Clock) -> World:
    w = World(call, runtime, clock)
    call("PutUserPolicy", UserName="alice", PolicyName="gft", PolicyDocument=GFT)
    call("PutUserPolicy", UserName="alice", PolicyName="s3", PolicyDocument=S3_ALL)
    return w


def token(world: World, **params: Any) -> dict[str, Any]:
    params.setdefault("Name", "bob")
    return world.call("GetFederationToken", service="sts", caller=world.alice, **params)


def decision(runtime: Runtime, caller: Caller, action: str, resource: str) -> str:
    info = RequestInfo(request_id="r", now=runtime.clock())
    with runtime.engine.connect() as conn:
        ctx = OperationContext(runtime, conn, caller, info, action)
        return decide(ctx, action, resource).evaluation.decision


def test_answer_and_identity(world: World) -> None:
    out = token(world, Policy=S3_ALL)
    assert out["FederatedUser"] == {"FederatedUserId": f"{ACCOUNT}:bob", "Arn": FED}
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["Expiration"] == world.clock() + timedelta(seconds=43200)
    assert 0 < out["PackedPolicySize"] <= 100
    fed = world.session(out)
    who = world.call("GetCallerIdentity", service="sts", caller=fed)
    assert who == {"UserId": f"{ACCOUNT}:bob", "Account": ACCOUNT, "Arn": FED}
    context = request_context(fed, RequestInfo(request_id="r", now=world.clock()))
    assert context.get("aws:PrincipalType") == ("FederatedUser",)
    assert context.get("aws:userid") == (f"{ACCOUNT}:bob",)
    assert context.get("aws:PrincipalArn") == (FED,)


# (id, session policy, action, expected decision) — [gft] the intersection
CASES = [
    ("no session policy: nothing", None, "s3:GetObject", "implicitDeny"),
    ("both allow", S3_ALL, "s3:GetObject", "allowed"),
    (
        "session allows what the user may not",
        doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}),
        "ec2:RunInstances",
        "implicitDeny",
    ),
    (
        "session narrows",
        doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
        "s3:PutObject",
        "implicitDeny",
    ),
    (
        "session denies",
        doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}),
        "s3:GetObject",
        "explicitDeny",
    ),
]


@pytest.mark.parametrize(
    ("policy", "action", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_permissions_are_the_intersection(
    world: World, runtime: Runtime, policy: str | None, action: str, expected: str
) -> None:
    params = {"Policy": policy} if policy is not None else {}
    fed = world.session(token(world, **params))
    assert decision(runtime, fed, action, "arn:aws:s3:::bucket/key") == expected


def test_no_iam_and_no_sts_but_get_caller_identity(world: World, call: Call) -> None:
    """[gft] Even a session policy allowing everything does not open IAM or STS."""
    call(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="all",
        PolicyDocument=doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    )
    fed = world.session(
        token(world, Policy=doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    )
    # IAM refuses the token itself, as it does GetSessionToken's without MFA.
    fails("InvalidClientTokenId", INVALID, call, "ListUsers", caller=fed)
    fails("AccessDenied", None, call, "GetFederationToken", service="sts", caller=fed, Name="x")
    fails("AccessDenied", None, call, "GetSessionToken", service="sts", caller=fed)
    call("GetCallerIdentity", service="sts", caller=fed)


def test_needs_permission_and_long_term_key(world: World, call: Call) -> None:
    call("DeleteUserPolicy", UserName="alice", PolicyName="gft")
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
        f"sts:GetFederationToken on resource: {FED}",
        token,
        world,
    )
    call("PutUserPolicy", UserName="alice", PolicyName="gft", PolicyDocument=GFT)
    session = call("GetSessionToken", service="sts", caller=world.alice)
    temp = world.session(session)
    fails(
        "AccessDenied",
        "Cannot call GetFederationToken with session credentials",
        call,
        "GetFederationToken",
        service="sts",
        caller=temp,
        Name="bob",
    )
    # Session tags need sts:TagSession.
    fails("AccessDenied", None, token, world, Tags=[{"Key": "team", "Value": "a"}])


def test_ends_with_the_user_and_on_expiry(
    world: World, call: Call, runtime: Runtime, clock: Clock
) -> None:
    out = token(world, DurationSeconds=900, Policy=S3_ALL)
    clock.now += timedelta(seconds=900)
    fails("ExpiredToken", None, world.session, out)
    clock.now -= timedelta(seconds=900)
    creds = token(world, Policy=S3_ALL)["Credentials"]
    world.session({"Credentials": creds})
    info = RequestInfo(request_id="r", now=clock.now, service="selfiam")
    call("DeleteAccessKey", UserName="alice", AccessKeyId=world.alice_key)
    report = offboard_user(runtime, Caller.root(ACCOUNT), "alice", info)
    assert creds["AccessKeyId"] in {s.access_key_id for s in report.plan.sts_sessions}
    credentials_fail(runtime, creds, STS, INVALID)


def test_session_tags_are_principal_tags(world: World, call: Call) -> None:
    call(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="tag",
        PolicyDocument=doc({"Effect": "Allow", "Action": "sts:TagSession", "Resource": "*"}),
    )
    call(
        "TagUser",
        UserName="alice",
        Tags=[{"Key": "team", "Value": "x"}, {"Key": "site", "Value": "y"}],
    )
    fed = world.session(token(world, Tags=[{"Key": "Team", "Value": "ops"}]))
    assert dict(fed.principal_tags) == {"Team": "ops", "site": "y"}
