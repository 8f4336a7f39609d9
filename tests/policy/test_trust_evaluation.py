"""Role trust policies in the pure engine: who a trust policy admits, in one account.

IAM User Guide, "Policy evaluation for requests within a single account" and
"Permissions boundaries for IAM entities": a resource-based policy naming the IAM user
(or the assumed-role session) ARN grants without an identity-based allow and is not
limited by the user's boundary; naming the account delegates to the identity-based
policies; naming a role ARN grants that role's sessions within their boundary and
session policies. A trust policy must allow explicitly (no trust match: denied).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from selfiam.policy import PolicyKind, Request, RequestContext, evaluate, parse_policy

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/run-1"
CI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci"


def _doc(statement: dict[str, Any], kind: PolicyKind) -> Any:
    return parse_policy(
        json.dumps({"Version": "2012-10-17", "Statement": [statement]}), kind, policy_id="p"
    )


def trust(principal: Any) -> Any:
    stmt = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return _doc(stmt, PolicyKind.TRUST)


ALLOW = _doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE}, PolicyKind.MANAGED)
DENY = _doc({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}, PolicyKind.MANAGED)
OTHER = _doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, PolicyKind.BOUNDARY)


def assume(principal_arn: str) -> Request:
    return Request(
        action="sts:AssumeRole",
        resource=ROLE,
        context=RequestContext({}),
        principal_arn=principal_arn,
        principal_account=ACCOUNT,
        resource_account=ACCOUNT,
    )


CASES = [
    # (id, caller, trust principal, identity, boundary, session, decision)
    ("user ARN grants alone", ALICE, {"AWS": ALICE}, [], None, None, "allowed"),
    ("user ARN, boundary does not limit", ALICE, {"AWS": ALICE}, [], [OTHER], None, "allowed"),
    ("user ARN, identity deny wins", ALICE, {"AWS": ALICE}, [DENY], None, None, "explicitDeny"),
    (
        "root needs identity allow",
        ALICE,
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        [],
        None,
        None,
        "implicitDeny",
    ),
    (
        "root with identity allow",
        ALICE,
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        [ALLOW],
        None,
        None,
        "allowed",
    ),
    ("account id with identity allow", ALICE, {"AWS": ACCOUNT}, [ALLOW], None, None, "allowed"),
    (
        "root, allow outside boundary",
        ALICE,
        {"AWS": ACCOUNT},
        [ALLOW],
        [OTHER],
        None,
        "implicitDeny",
    ),
    (
        "other user named",
        ALICE,
        {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"},
        [ALLOW],
        None,
        None,
        "implicitDeny",
    ),
    ("role ARN admits its sessions", SESSION, {"AWS": CI_ROLE}, [], None, None, "allowed"),
    (
        "role ARN, session outside boundary",
        SESSION,
        {"AWS": CI_ROLE},
        [],
        [OTHER],
        None,
        "implicitDeny",
    ),
    (
        "role ARN, session policy must allow",
        SESSION,
        {"AWS": CI_ROLE},
        [],
        None,
        [OTHER],
        "implicitDeny",
    ),
    ("session ARN named directly", SESSION, {"AWS": SESSION}, [], [OTHER], None, "allowed"),
    ("another role's session", SESSION, {"AWS": ROLE}, [ALLOW], None, None, "implicitDeny"),
]


@pytest.mark.parametrize(
    ("caller", "principal", "identity", "boundary", "session", "decision"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_trust(
    caller: str,
    principal: Any,
    identity: list[Any],
    boundary: list[Any] | None,
    session: list[Any] | None,
    decision: str,
) -> None:
    result = evaluate(
        assume(caller),
        identity,
        boundary=boundary,
        session=session,
        resource_policy=trust(principal),
    )
    assert result.decision == decision


ALICE_ID = "AIDAJQABLZS4A3QDU576Q"
CI_ID = "AROAJQABLZS4A3QDU576R"

# (id, caller ARN, caller's unique id, trust principal, session policies, decision)
UNIQUE_ID_CASES = [
    ("user id names its user", ALICE, ALICE_ID, {"AWS": ALICE_ID}, None, "allowed"),
    (
        "user id, another id",
        ALICE,
        "AIDAOTHEROTHEROTHER00",
        {"AWS": ALICE_ID},
        None,
        "implicitDeny",
    ),
    ("user id, no id given", ALICE, None, {"AWS": ALICE_ID}, None, "implicitDeny"),
    ("role id names its sessions", SESSION, CI_ID, {"AWS": [CI_ID]}, None, "allowed"),
    ("role id, session policy limits", SESSION, CI_ID, {"AWS": CI_ID}, [OTHER], "implicitDeny"),
]


@pytest.mark.parametrize(
    ("caller", "caller_id", "principal", "session", "decision"),
    [c[1:] for c in UNIQUE_ID_CASES],
    ids=[c[0] for c in UNIQUE_ID_CASES],
)
def test_unique_id_principals(
    caller: str, caller_id: str | None, principal: Any, session: Any, decision: str
) -> None:
    """IAM stores a trust policy's user and role ARNs as unique ids (AIDA…, AROA…):
    they match the caller whose user id, or whose role's id, it is."""
    request = Request(
        action="sts:AssumeRole",
        resource=ROLE,
        context=RequestContext({}),
        principal_arn=caller,
        principal_account=ACCOUNT,
        resource_account=ACCOUNT,
        principal_id=caller_id,
    )
    result = evaluate(request, [], session=session, resource_policy=trust(principal))
    assert result.decision == decision
