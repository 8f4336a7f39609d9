"""sts:AssumeRole and role sessions as callers.

Cases cite AWS's documentation:
[eval] IAM User Guide, "Policy evaluation for requests within a single account": a
  resource-based policy naming the IAM user ARN grants without an identity-based allow;
  naming the account delegates to the identity-based policies.
[trust] "How to use trust policies with IAM roles" / "Cross account resource access":
  a role trust policy must allow the principal explicitly.
[ar] STS API Reference, AssumeRole (DurationSeconds, ExternalId, SerialNumber/TokenCode,
  SourceIdentity, PackedPolicySize; role chaining capped at one hour).
[keys] "AWS global condition context keys" (aws:PrincipalArn, aws:userid,
  aws:PrincipalType AssumedRole, aws:TokenIssueTime, aws:SourceIdentity).
[si] IAM User Guide, "Monitor and control actions taken with assumed roles", permissions
  required to set source identity: sts:SetSourceIdentity, in the role trust policy too.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from tests.service.conftest import ACCOUNT, Call, Clock, credentials_fail, fails

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.identifiers import new_request_id
from selfiam.service.authz import request_context
from selfiam.service.bootstrap import create_account
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.offboarding import offboard_user
from selfiam.service.operations import assume_role as assume_role_module
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import create_engine_for, transaction
from selfiam.store.migrate import upgrade_to_head

STS = ("20261127", "us-east-1", "sts")
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy"
INVALID = "The security token included in the request is invalid."


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal: Any, **extra: Any) -> str:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra})


ALLOW_ASSUME = doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE})
ALLOW_ALL = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
DENY_ASSUME = doc({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"})


def denied(caller_arn: str, resource: str = ROLE) -> str:
    return (
        f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {resource}"
    )


class World:
    """alice (long-term key) and the role ``deploy``; helpers to sign in as a session."""

    def __init__(self, call: Call, runtime: Runtime, clock: Clock) -> None:
        self.call, self.runtime, self.clock = call, runtime, clock
        call("CreateUser", UserName="alice")
        key = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
        self.alice_key = key

    @property
    def alice(self) -> Caller:
        return self.runtime.authenticate_access_key(self.alice_key, STS)[0]

    def role(self, trust_policy: str, **params: Any) -> dict[str, Any]:
        return self.call(
            "CreateRole", RoleName="deploy", AssumeRolePolicyDocument=trust_policy, **params
        )["Role"]

    def assume(self, caller: Caller | None = None, **params: Any) -> dict[str, Any]:
        params.setdefault("RoleArn", ROLE)
        params.setdefault("RoleSessionName", "s1")
        return self.call("AssumeRole", service="sts", caller=caller or self.alice, **params)

    def session(self, answer: dict[str, Any]) -> Caller:
        creds = answer["Credentials"]
        return self.runtime.authenticate_access_key(
            creds["AccessKeyId"], STS, creds["SessionToken"]
        )[0]


@pytest.fixture
def world(call: Call, runtime: Runtime, clock: Clock) -> World:
    return World(call, runtime, clock)


# (trust principal, alice's identity policy, expected) — [eval], [trust]
TRUST_CASES = [
    ("user ARN, no identity policy", {"AWS": ALICE}, None, "allowed"),
    ("user ARN, identity deny", {"AWS": ALICE}, DENY_ASSUME, "AccessDenied"),
    ("root ARN, no identity policy", {"AWS": ROOT}, None, "AccessDenied"),
    ("root ARN, identity allow", {"AWS": ROOT}, ALLOW_ASSUME, "allowed"),
    ("bare account id, identity allow", {"AWS": ACCOUNT}, ALLOW_ASSUME, "allowed"),
    ("bare account id, no identity policy", {"AWS": ACCOUNT}, None, "AccessDenied"),
    (
        "other account, identity allow",
        {"AWS": "arn:aws:iam::111122223333:root"},
        ALLOW_ASSUME,
        "AccessDenied",
    ),
    (
        "service principal only, identity allow",
        {"Service": "ec2.amazonaws.com"},
        ALLOW_ASSUME,
        "AccessDenied",
    ),
    ("wildcard, no identity policy", "*", None, "allowed"),
]


@pytest.mark.parametrize(
    ("principal", "identity", "expected"),
    [c[1:] for c in TRUST_CASES],
    ids=[c[0] for c in TRUST_CASES],
)
def test_same_account_trust(
    world: World, call: Call, principal: Any, identity: str | None, expected: str
) -> None:
    world.role(trust(principal))
    if identity is not None:
        call("PutUserPolicy", UserName="alice", PolicyName="p", PolicyDocument=identity)
    if expected == "allowed":
        out = world.assume()
        assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/s1"
    else:
        fails("AccessDenied", denied(ALICE), world.assume)


def test_answer_shape(world: World) -> None:
    role = world.role(trust({"AWS": ALICE}))
    out = world.assume(RoleSessionName="alice@laptop")
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    assert creds["Expiration"] == world.clock() + timedelta(seconds=3600)
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:alice@laptop",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/alice@laptop",
    }
    assert "PackedPolicySize" not in out
    last_used = world.call("GetRole", RoleName="deploy")["Role"]["RoleLastUsed"]
    assert last_used == {"LastUsedDate": world.clock(), "Region": "us-east-1"}


def test_role_last_used_is_recorded_once_a_minute_per_region(world: World) -> None:
    """RoleLastUsed is written when it would change as reported (a first use, a new
    region, a minute or more since), not by every AssumeRole: sessions of one role are
    not serialized on its row (AWS's own RoleLastUsed lags by hours)."""
    world.role(trust({"AWS": ALICE}))

    def last_used() -> dict[str, Any]:
        return dict(world.call("GetRole", RoleName="deploy")["Role"]["RoleLastUsed"])

    def assume_in(region: str) -> None:
        info = RequestInfo(request_id=new_request_id(), now=world.clock(), service="sts",
                           region=region)
        params = {"RoleArn": ROLE, "RoleSessionName": "s"}
        world.runtime.invoke("sts", "AssumeRole", params, world.alice, info)

    first = world.clock()
    assume_in("us-east-1")
    assert last_used() == {"LastUsedDate": first, "Region": "us-east-1"}
    world.clock.now += timedelta(seconds=59)
    assume_in("us-east-1")
    assert last_used() == {"LastUsedDate": first, "Region": "us-east-1"}
    assume_in("eu-west-1")  # another region: recorded at once
    assert last_used() == {"LastUsedDate": world.clock(), "Region": "eu-west-1"}
    world.clock.now += timedelta(seconds=60)
    assume_in("eu-west-1")
    assert last_used() == {"LastUsedDate": world.clock(), "Region": "eu-west-1"}


def test_the_role_read_by_assume_role_stays_until_its_session_is_stored(
    postgres_url: str,
) -> None:
    """``role_for`` keeps the role's row (FOR KEY SHARE) for the rest of the transaction:
    a DeleteRole in between waits for the session to be stored (here it gives up at its
    lock timeout) instead of failing the session's foreign key; another AssumeRole of
    the role does not wait."""
    engine = create_engine_for(postgres_url)
    try:
        upgrade_to_head(engine)
        with transaction(engine) as conn:
            create_account(conn, Clock()(), ACCOUNT)
        rt = Runtime(engine, SecretBox(SecretBox.generate_key()))
        rt.invoke("iam", "CreateRole", {"RoleName": "deploy",
                                        "AssumeRolePolicyDocument": trust({"AWS": ACCOUNT})},
                  Caller.root(ACCOUNT), RequestInfo(request_id=new_request_id(), now=Clock()()))
        with transaction(engine) as first:
            assert assume_role_module.role_for(first, ACCOUNT, ROLE) is not None
            with transaction(engine) as second:
                second.execute(text("SET LOCAL lock_timeout = '2s'"))
                assert assume_role_module.role_for(second, ACCOUNT, ROLE) is not None
            with pytest.raises(OperationalError, match="lock timeout"), transaction(
                engine
            ) as deleter:
                deleter.execute(text("SET LOCAL lock_timeout = '200ms'"))
                deleter.execute(t.roles.delete().where(t.roles.c.name == "deploy"))
        rt.audit.flush()
    finally:
        engine.dispose()


def test_unknown_role_is_access_denied(world: World) -> None:
    """AWS does not reveal whether a role exists: AccessDenied, not NoSuchEntity."""
    world.role(trust({"AWS": ALICE}))
    other = f"arn:aws:iam::{ACCOUNT}:role/nope"
    fails("AccessDenied", denied(ALICE, other), world.assume, RoleArn=other)
    wrong_path = f"arn:aws:iam::{ACCOUNT}:role/x/deploy"
    fails("AccessDenied", denied(ALICE, wrong_path), world.assume, RoleArn=wrong_path)


def test_root_may_not_assume(world: World) -> None:
    world.role(trust("*"))
    fails(
        "AccessDenied",
        "Roles may not be assumed by root accounts.",
        world.assume,
        caller=Caller.root(ACCOUNT),
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, "AccessDenied"), ("wrong", "AccessDenied"), ("secret-1", "allowed")],
)
def test_external_id(world: World, given: str | None, expected: str) -> None:
    world.role(trust({"AWS": ALICE}, Condition={"StringEquals": {"sts:ExternalId": "secret-1"}}))
    params = {"ExternalId": given} if given else {}
    if expected == "allowed":
        world.assume(**params)
    else:
        fails("AccessDenied", denied(ALICE), world.assume, **params)


def test_mfa_required_by_trust(world: World, call: Call, clock: Clock) -> None:
    """[ar] SerialNumber + TokenCode put aws:MultiFactorAuthPresent in the trust's context."""
    world.role(trust({"AWS": ALICE}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    device = call("CreateVirtualMFADevice", VirtualMFADeviceName="alice")["VirtualMFADevice"]
    app = pyotp.TOTP(device["Base32StringSeed"].decode())
    call(
        "EnableMFADevice",
        UserName="alice",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=app.at(clock() - timedelta(seconds=30)),
        AuthenticationCode2=app.at(clock()),
    )
    clock.now += timedelta(seconds=30)
    fails("AccessDenied", denied(ALICE), world.assume)
    fails(
        "AccessDenied",
        None,
        world.assume,
        SerialNumber=device["SerialNumber"],
        TokenCode="000000" if app.at(clock()) != "000000" else "111111",
    )
    out = world.assume(SerialNumber=device["SerialNumber"], TokenCode=app.at(clock()))
    session = world.session(out)
    assert session.mfa_authenticated_at == clock()
    # The same code is not accepted twice.
    fails(
        "AccessDenied",
        None,
        world.assume,
        SerialNumber=device["SerialNumber"],
        TokenCode=app.at(clock()),
    )


@pytest.mark.parametrize(
    ("max_duration", "asked", "error"),
    [
        (None, None, None),
        (None, 3600, None),
        (
            None,
            3601,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ),
        (43200, 43200, None),
        (7200, 900, None),
    ],
)
def test_duration_limits(
    world: World, max_duration: int | None, asked: int | None, error: str | None
) -> None:
    extra = {"MaxSessionDuration": max_duration} if max_duration else {}
    world.role(trust({"AWS": ALICE}), **extra)
    params = {"DurationSeconds": asked} if asked else {}
    if error is None:
        out = world.assume(**params)
        assert out["Credentials"]["Expiration"] == world.clock() + timedelta(seconds=asked or 3600)
    else:
        fails("ValidationError", error, world.assume, **params)


def test_role_chaining_is_capped_at_one_hour(world: World, call: Call) -> None:
    """[ar] A role session assuming a role may ask for one hour at most, whatever the role's
    MaxSessionDuration; a trust naming a role ARN admits that role's sessions."""
    world.role(trust({"AWS": ALICE}), MaxSessionDuration=43200)
    call(
        "CreateRole",
        RoleName="second",
        MaxSessionDuration=43200,
        AssumeRolePolicyDocument=trust({"AWS": ROLE}),
    )
    first = world.session(world.assume(DurationSeconds=7200))
    second_arn = f"arn:aws:iam::{ACCOUNT}:role/second"
    fails(
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
        "by role chaining.",
        world.assume,
        caller=first,
        RoleArn=second_arn,
        DurationSeconds=3601,
    )
    out = world.assume(caller=first, RoleArn=second_arn, RoleSessionName="hop")
    assert world.session(out).arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/second/hop"


def test_session_is_a_caller(world: World, call: Call) -> None:
    """[keys] The request context of a role session, and what it may do (the role's
    policies, not alice's)."""
    role = world.role(
        trust({"AWS": ALICE}, Action=["sts:AssumeRole", "sts:SetSourceIdentity"]),
        Tags=[{"Key": "team", "Value": "ops"}],
    )
    call(
        "PutRolePolicy",
        RoleName="deploy",
        PolicyName="read",
        PolicyDocument=doc({"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}),
    )
    out = world.assume(RoleSessionName="s1", SourceIdentity="alice")
    session = world.session(out)
    info = RequestInfo(request_id="r", now=world.clock())
    context = request_context(session, info)
    assert context.get("aws:PrincipalArn") == (ROLE,)
    assert context.get("aws:userid") == (f"{role['RoleId']}:s1",)
    assert context.get("aws:PrincipalType") == ("AssumedRole",)
    assert context.get("aws:PrincipalTag/team") == ("ops",)
    assert context.get("aws:TokenIssueTime") == (world.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),)
    assert context.get("aws:SourceIdentity") == ("alice",)
    assert context.get("aws:MultiFactorAuthPresent") == ("false",)
    assert context.get("aws:username") is None
    identity = call("GetCallerIdentity", service="sts", caller=session)
    assert identity == {
        "UserId": f"{role['RoleId']}:s1",
        "Account": ACCOUNT,
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/s1",
    }
    assert call("ListUsers", caller=session)["Users"][0]["UserName"] == "alice"
    fails(
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/deploy/s1 is not authorized to perform: "
        f"iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/mallory because no "
        "identity-based policy allows the iam:CreateUser action",
        call,
        "CreateUser",
        UserName="mallory",
        caller=session,
    )
    fails(
        "ValidationError",
        "Must specify userName when calling with non-User credentials",
        call,
        "GetUser",
        caller=session,
    )


def test_deleting_the_role_ends_its_sessions(world: World, call: Call, runtime: Runtime) -> None:
    world.role(trust({"AWS": ALICE}))
    creds = world.assume()["Credentials"]
    world.session({"Credentials": creds})  # works, and is cached
    call("DeleteRole", RoleName="deploy")
    credentials_fail(runtime, creds, STS, INVALID)
    # A new role of the same name does not bring the session back.
    world.role(trust({"AWS": ALICE}))
    credentials_fail(runtime, creds, STS, INVALID)


def test_offboarding_the_user_ends_the_sessions_they_started(
    world: World, call: Call, runtime: Runtime
) -> None:
    """Also through a chain: the second hop was called with role credentials."""
    world.role(trust({"AWS": ALICE}))
    call("CreateRole", RoleName="second", AssumeRolePolicyDocument=trust({"AWS": ROLE}))
    first = world.assume()
    hop = world.assume(caller=world.session(first), RoleArn=f"arn:aws:iam::{ACCOUNT}:role/second")
    for answer in (first, hop):
        world.session(answer)
    info = RequestInfo(request_id="r", now=world.clock(), service="selfiam")
    call("DeleteAccessKey", UserName="alice", AccessKeyId=world.alice_key)
    report = offboard_user(runtime, Caller.root(ACCOUNT), "alice", info)
    listed = {s.access_key_id for s in report.plan.sts_sessions}
    assert listed == {a["Credentials"]["AccessKeyId"] for a in (first, hop)}
    for answer in (first, hop):
        creds = answer["Credentials"]
        credentials_fail(runtime, creds, STS, INVALID)


def test_role_policy_change_applies_to_live_sessions(world: World, call: Call) -> None:
    world.role(trust({"AWS": ALICE}))
    session = world.session(world.assume())
    fails("AccessDenied", None, call, "ListUsers", caller=session)
    call("PutRolePolicy", RoleName="deploy", PolicyName="all", PolicyDocument=ALLOW_ALL)
    assert call("ListUsers", caller=session)["Users"]


def test_session_policy_narrows(world: World, call: Call) -> None:
    """[ar] The session's permissions are the intersection of the role's and the session
    policy's."""
    world.role(trust({"AWS": ALICE}))
    call("PutRolePolicy", RoleName="deploy", PolicyName="all", PolicyDocument=ALLOW_ALL)
    narrow = doc({"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"})
    out = world.assume(Policy=narrow)
    assert 0 < out["PackedPolicySize"] <= 100
    session = world.session(out)
    assert call("ListUsers", caller=session)["Users"]
    fails("AccessDenied", None, call, "ListRoles", caller=session)
    fails("MalformedPolicyDocument", None, world.assume, Policy='{"Statement": 5}')


def test_session_tags_need_tag_session(world: World) -> None:
    tags = [{"Key": "project", "Value": "x"}]
    world.role(trust({"AWS": ALICE}))
    fails(
        "AccessDenied",
        f"User: {ALICE} is not authorized to perform: sts:TagSession on resource: {ROLE}",
        world.assume,
        Tags=tags,
    )


def test_source_identity_needs_set_source_identity(world: World, call: Call) -> None:
    """[si] A SourceIdentity is sts:SetSourceIdentity too, which the trust policy must
    allow (with the identity policy, when the trust names the account); a source
    identity carried down a chain needs it in the next role's trust policy as well."""
    world.role(trust({"AWS": ALICE}))
    fails(
        "AccessDenied",
        f"User: {ALICE} is not authorized to perform: sts:SetSourceIdentity on resource: {ROLE}",
        world.assume,
        SourceIdentity="alice",
    )
    assert "SourceIdentity" not in world.assume()
    call(
        "UpdateAssumeRolePolicy",
        RoleName="deploy",
        PolicyDocument=trust({"AWS": ROOT}, Action=["sts:AssumeRole", "sts:SetSourceIdentity"]),
    )
    call("PutUserPolicy", UserName="alice", PolicyName="assume", PolicyDocument=ALLOW_ASSUME)
    # The trust names the account: alice's own policies must allow it too.
    fails("AccessDenied", None, world.assume, SourceIdentity="alice")
    either = doc(
        {
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            "Resource": "*",
            "Condition": {"StringEquals": {"sts:SourceIdentity": "alice"}},
        }
    )
    call("PutUserPolicy", UserName="alice", PolicyName="assume", PolicyDocument=either)
    fails("AccessDenied", None, world.assume, SourceIdentity="mallory")
    first = world.session(world.assume(SourceIdentity="alice"))
    assert first.source_identity == "alice"
    # Chaining into a role whose trust allows sts:AssumeRole only: the carried source
    # identity is refused.
    call(
        "CreateRole",
        RoleName="next",
        AssumeRolePolicyDocument=trust({"AWS": ROLE}),
    )
    call("PutRolePolicy", RoleName="deploy", PolicyName="all", PolicyDocument=ALLOW_ALL)
    next_arn = f"arn:aws:iam::{ACCOUNT}:role/next"
    fails(
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/deploy/s1 is not authorized to perform: "
        f"sts:SetSourceIdentity on resource: {next_arn}",
        world.assume,
        caller=first,
        RoleArn=next_arn,
        RoleSessionName="hop",
    )
    call(
        "UpdateAssumeRolePolicy",
        RoleName="next",
        PolicyDocument=trust({"AWS": ROLE}, Action=["sts:AssumeRole", "sts:SetSourceIdentity"]),
    )
    hop = world.assume(caller=first, RoleArn=next_arn, RoleSessionName="hop")
    assert hop["SourceIdentity"] == "alice"


def test_session_tags_are_principal_tags(world: World, call: Call) -> None:
    world.role(
        doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": ALICE},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ),
        Tags=[{"Key": "project", "Value": "role-value"}],
    )
    out = world.assume(Tags=[{"Key": "Project", "Value": "x"}])
    session = world.session(out)
    assert dict(session.principal_tags) == {"Project": "x"}


def test_expired_role_session_is_refused(world: World, runtime: Runtime, clock: Clock) -> None:
    world.role(trust({"AWS": ALICE}))
    creds = world.assume(DurationSeconds=900)["Credentials"]
    clock.now += timedelta(seconds=900)
    credentials_fail(
        runtime, creds, STS, "The security token included in the request is expired", "ExpiredToken"
    )


def test_wrong_session_token_is_refused(world: World, runtime: Runtime) -> None:
    world.role(trust({"AWS": ALICE}))
    creds = world.assume()["Credentials"]
    token = creds["SessionToken"]
    other = ("B" if token[0] == "A" else "A") + token[1:]
    fails(
        "InvalidClientTokenId",
        INVALID,
        runtime.authenticate_access_key,
        creds["AccessKeyId"],
        STS,
        other,
    )
    fails(
        "InvalidClientTokenId", INVALID, runtime.authenticate_access_key, creds["AccessKeyId"], STS
    )


TAGGING_TRUST = doc(
    {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
)


def test_transitive_tags_pass_down_a_chain(world: World, call: Call) -> None:
    """[ar] Transitive session tags go to the sessions a session starts, which may not
    restate them."""
    world.role(TAGGING_TRUST)
    call(
        "CreateRole",
        RoleName="second",
        AssumeRolePolicyDocument=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": ROLE},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ),
    )
    tags = [{"Key": "project", "Value": "x"}, {"Key": "cost", "Value": "1"}]
    first = world.session(world.assume(Tags=tags, TransitiveTagKeys=["project"]))
    second_arn = f"arn:aws:iam::{ACCOUNT}:role/second"
    hop = world.session(world.assume(caller=first, RoleArn=second_arn))
    assert dict(hop.principal_tags) == {"project": "x"}
    fails(
        "ValidationError",
        None,
        world.assume,
        caller=first,
        RoleArn=second_arn,
        Tags=[{"Key": "Project", "Value": "y"}],
    )
    fails("ValidationError", None, world.assume, Tags=tags, TransitiveTagKeys=["other"])


def test_policy_arns_narrow_the_session(world: World, call: Call) -> None:
    world.role(trust({"AWS": ALICE}))
    call("PutRolePolicy", RoleName="deploy", PolicyName="all", PolicyDocument=ALLOW_ALL)
    read_only = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    session = world.session(world.assume(PolicyArns=[{"arn": read_only}]))
    assert call("ListRoles", caller=session)["Roles"]
    fails("AccessDenied", None, call, "CreateUser", UserName="x", caller=session)
    unknown = f"arn:aws:iam::{ACCOUNT}:policy/none"
    nothing = world.session(world.assume(PolicyArns=[{"arn": unknown}]))
    fails("AccessDenied", None, call, "ListRoles", caller=nothing)
