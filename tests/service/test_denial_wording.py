"""AccessDenied wording for role sessions: which kind of policy failed to allow, or denied.

IAM User Guide, "Troubleshoot access denied error messages": "When a policy explicitly
denies access ... AWS includes the phrase with an explicit deny in a TYPE policy ...
When the policy implicitly denies access, then AWS includes the phrase because no TYPE
policy allows the ACTION action ... If multiple policy types deny an authorization
request, AWS includes only one of those policy types in the error message." The types
a role session meets: identity-based policy, permissions boundary, session policy.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.service.conftest import ACCOUNT, Call, fails
from tests.service.test_assume_role import ALICE, World, doc, trust

from selfiam.service.runtime import Runtime
from support.clock import Clock

ACTION = "iam:ListUsers"
RESOURCE = f"arn:aws:iam::{ACCOUNT}:user/"
ALLOW = doc({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
DENY = doc({"Effect": "Deny", "Action": ACTION, "Resource": "*"})
OTHER = doc({"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"})
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/boundary"
SESSION_ARN = f"arn:aws:iam::{ACCOUNT}:policy/session"


@pytest.fixture
def world(call: Call, runtime: Runtime, clock: Clock) -> World:
    return World(call, runtime, clock)


# (id, role's inline policy, role's boundary, session Policy, session PolicyArns policy,
#  expected reason)
CASES: list[tuple[str, str | None, str | None, str | None, str | None, str]] = [
    (
        "no role policy",
        None,
        None,
        None,
        None,
        "because no identity-based policy allows the iam:ListUsers action",
    ),
    (
        "role policy denies",
        DENY,
        None,
        None,
        None,
        "with an explicit deny in an identity-based policy",
    ),
    (
        "boundary does not allow",
        ALLOW,
        OTHER,
        None,
        None,
        "because no permissions boundary allows the iam:ListUsers action",
    ),
    ("boundary denies", ALLOW, DENY, None, None, "with an explicit deny in a permissions boundary"),
    (
        "session policy does not allow",
        ALLOW,
        None,
        OTHER,
        None,
        "because no session policy allows the iam:ListUsers action",
    ),
    ("session policy denies", ALLOW, None, DENY, None, "with an explicit deny in a session policy"),
    (
        "managed session policy does not allow",
        ALLOW,
        None,
        None,
        OTHER,
        "because no session policy allows the iam:ListUsers action",
    ),
    (
        "neither role nor session policy allows",
        OTHER,
        None,
        OTHER,
        None,
        "because no identity-based policy allows the iam:ListUsers action",
    ),
    (
        "boundary and session policy both fail: the boundary is named",
        ALLOW,
        OTHER,
        OTHER,
        None,
        "because no permissions boundary allows the iam:ListUsers action",
    ),
    (
        "role and session policy both deny: identity-based is named",
        DENY,
        None,
        DENY,
        None,
        "with an explicit deny in an identity-based policy",
    ),
]


@pytest.mark.parametrize(
    ("inline", "boundary", "session", "managed_session", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_role_session_denials(
    world: World,
    call: Call,
    inline: str | None,
    boundary: str | None,
    session: str | None,
    managed_session: str | None,
    reason: str,
) -> None:
    extra: dict[str, Any] = {}
    if boundary is not None:
        call("CreatePolicy", PolicyName="boundary", PolicyDocument=boundary)
        extra["PermissionsBoundary"] = BOUNDARY_ARN
    world.role(trust({"AWS": ALICE}), **extra)
    if inline is not None:
        call("PutRolePolicy", RoleName="deploy", PolicyName="p", PolicyDocument=inline)
    params: dict[str, Any] = {}
    if session is not None:
        params["Policy"] = session
    if managed_session is not None:
        call("CreatePolicy", PolicyName="session", PolicyDocument=managed_session)
        params["PolicyArns"] = [{"arn": SESSION_ARN}]
    caller = world.session(world.assume(**params))
    fails(
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/deploy/s1 is not authorized to perform: "
        f"{ACTION} on resource: {RESOURCE} {reason}",
        call,
        "ListUsers",
        caller=caller,
    )


def test_allowed_when_every_kind_allows(world: World, call: Call) -> None:
    call("CreatePolicy", PolicyName="boundary", PolicyDocument=ALLOW)
    world.role(trust({"AWS": ALICE}), PermissionsBoundary=BOUNDARY_ARN)
    call("PutRolePolicy", RoleName="deploy", PolicyName="p", PolicyDocument=ALLOW)
    caller = world.session(world.assume(Policy=json.dumps(json.loads(ALLOW))))
    assert call("ListUsers", caller=caller)["Users"][0]["UserName"] == "alice"
