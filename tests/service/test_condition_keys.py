"""The condition keys each operation puts in its request context (issue 15), one row per
key and operation: a policy that allows the operation only when the key has the value
AWS gives it is allowed, the same policy with another value is denied; a key AWS leaves
out of a direct call is absent (``Null: true``). docs/condition-keys.md is the table these
rows check; its references are AWS's (the IAM User Guide's "AWS global condition context
keys" and "IAM and AWS STS condition context keys", the Service Authorization Reference).

One account is built once for the module (users, roles, policies, instance profiles, an
OpenID Connect provider, a virtual MFA device, with tags and boundaries); each row
replaces the acting user's one inline policy, and a row that changes the account puts it
back as the root.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.errors import AwsError
from selfiam.domain.identifiers import new_request_id
from selfiam.service.authz import request_context
from selfiam.service.bootstrap import create_account, seed_aws_managed_policies
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store.engine import create_engine_for, transaction
from selfiam.store.migrate import upgrade_to_head
from support.clock import Clock

ACCOUNT = "123456789012"
IAM = f"arn:aws:iam::{ACCOUNT}"
BOUNDARY = f"{IAM}:policy/Boundary"
OTHER = f"{IAM}:policy/Other"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
OIDC = f"{IAM}:oidc-provider/issuer.example.com"
MFA = f"{IAM}:mfa/token"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ACCOUNT},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            }
        ],
    }
)
DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
TEAM = [{"Key": "team", "Value": "blue"}]


class World:
    """The module's account, and how to act in it."""

    def __init__(self, runtime: Runtime, clock: Clock) -> None:
        self.runtime = runtime
        self.clock = clock
        self.admin_id = ""

    def root(self, operation: str, service: str = "iam", **params: Any) -> dict[str, Any]:
        info = RequestInfo(request_id=new_request_id(), now=self.clock(), service=service)
        return self.runtime.invoke(service, operation, params, Caller.root(ACCOUNT), info)

    def admin(self, **fields: Any) -> Caller:
        values: dict[str, Any] = {
            "account_id": ACCOUNT,
            "arn": f"{IAM}:user/admin",
            "user_id": self.admin_id,
            "user_name": "admin",
            "access_key_id": "AKIATESTTESTTESTTEST",
            "principal_tags": (("dept", "ops"),),
        }
        values.update(fields)
        return Caller(**values)

    def allow_only_if(self, action: str | list[str], condition: dict[str, Any]) -> None:
        statement = {"Effect": "Allow", "Action": action, "Resource": "*", "Condition": condition}
        self.root(
            "PutUserPolicy",
            UserName="admin",
            PolicyName="only-if",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )

    def attempt(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        service: str = "iam",
        caller: Caller | None = None,
        region: str = "us-east-1",
    ) -> str:
        """ "denied" if AccessDenied, else "authorized" (the operation may still fail)."""
        info = RequestInfo(
            request_id=new_request_id(),
            now=self.clock(),
            service=service,
            region=region,
            source_ip="203.0.113.7",
            user_agent="Boto3/1.35 test",
            secure_transport=True,
        )
        try:
            self.runtime.invoke(service, operation, params, caller or self.admin(), info)
        except AwsError as err:
            return "denied" if err.code == "AccessDenied" else "authorized"
        return "authorized"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path: Path = tmp_path_factory.mktemp("condkeys") / "service.db"
    engine = create_engine_for(f"sqlite:///{path}")
    upgrade_to_head(engine)
    clock = Clock()
    with transaction(engine) as conn:
        seed_aws_managed_policies(conn)
        create_account(conn, clock(), ACCOUNT)
    runtime = Runtime(engine, SecretBox(SecretBox.generate_key()), clock=clock)
    w = World(runtime, clock)
    w.root("CreatePolicy", PolicyName="Boundary", PolicyDocument=DOC, Tags=TEAM)
    w.root("CreatePolicy", PolicyName="Other", PolicyDocument=DOC)
    w.admin_id = w.root("CreateUser", UserName="admin", Tags=[{"Key": "dept", "Value": "ops"}])[
        "User"
    ]["UserId"]
    w.root("CreateUser", UserName="bob", PermissionsBoundary=BOUNDARY, Tags=TEAM)
    w.root("PutUserPolicy", UserName="bob", PolicyName="keep", PolicyDocument=DOC)
    w.root("CreateUser", UserName="carol")
    w.root("CreateGroup", GroupName="devs")
    w.root(
        "CreateRole",
        RoleName="app",
        AssumeRolePolicyDocument=TRUST,
        PermissionsBoundary=BOUNDARY,
        Tags=TEAM,
    )
    w.root("CreateInstanceProfile", InstanceProfileName="web", Tags=TEAM)
    w.root(
        "CreateOpenIDConnectProvider",
        Url="https://issuer.example.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
        Tags=TEAM,
    )
    w.root("CreateVirtualMFADevice", VirtualMFADeviceName="token", Tags=TEAM)
    yield w
    runtime.audit.flush()
    engine.dispose()


@dataclass(frozen=True)
class Row:
    """``operation`` with ``params`` is allowed when ``key`` is ``value`` (and denied when a
    policy asks for ``wrong``); ``restore`` puts back what an allowed call changed."""

    key: str
    operation: str
    params: dict[str, Any]
    value: str
    wrong: str = "nope"
    service: str = "iam"
    restore: Callable[[World], Any] | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return f"{self.key}-{self.operation}"


def _reput_user_boundary(w: World) -> None:
    w.root("PutUserPermissionsBoundary", UserName="bob", PermissionsBoundary=BOUNDARY)


def _reput_role_boundary(w: World) -> None:
    w.root("PutRolePermissionsBoundary", RoleName="app", PermissionsBoundary=BOUNDARY)


def _rows() -> list[Row]:
    bob = {"UserName": "bob"}
    app = {"RoleName": "app"}
    pb = "iam:PermissionsBoundary"
    rows = [
        # iam:PermissionsBoundary: the target's current boundary ...
        Row(pb, "AttachUserPolicy", {**bob, "PolicyArn": OTHER}, BOUNDARY, OTHER),
        Row(pb, "DetachUserPolicy", {**bob, "PolicyArn": READ_ONLY}, BOUNDARY, OTHER),
        Row(pb, "PutUserPolicy", {**bob, "PolicyName": "keep", "PolicyDocument": DOC}, BOUNDARY),
        Row(pb, "DeleteUserPolicy", {**bob, "PolicyName": "absent"}, BOUNDARY),
        Row(
            pb, "DeleteUserPermissionsBoundary", bob, BOUNDARY, OTHER, restore=_reput_user_boundary
        ),
        Row(pb, "AttachRolePolicy", {**app, "PolicyArn": OTHER}, BOUNDARY, OTHER),
        Row(pb, "DetachRolePolicy", {**app, "PolicyArn": READ_ONLY}, BOUNDARY, OTHER),
        Row(pb, "PutRolePolicy", {**app, "PolicyName": "keep", "PolicyDocument": DOC}, BOUNDARY),
        Row(pb, "DeleteRolePolicy", {**app, "PolicyName": "absent"}, BOUNDARY),
        Row(
            pb, "DeleteRolePermissionsBoundary", app, BOUNDARY, OTHER, restore=_reput_role_boundary
        ),
        Row(pb, "GetRole", app, BOUNDARY, OTHER),
        Row(pb, "UpdateRole", {**app, "MaxSessionDuration": 3600}, BOUNDARY, OTHER),
        Row(pb, "UpdateRoleDescription", {**app, "Description": "d"}, BOUNDARY, OTHER),
        Row(pb, "UpdateAssumeRolePolicy", {**app, "PolicyDocument": TRUST}, BOUNDARY, OTHER),
        # ... or the one the request sets.
        Row(
            pb,
            "PutUserPermissionsBoundary",
            {**bob, "PermissionsBoundary": OTHER},
            OTHER,
            BOUNDARY,
            restore=_reput_user_boundary,
        ),
        Row(
            pb,
            "PutRolePermissionsBoundary",
            {**app, "PermissionsBoundary": OTHER},
            OTHER,
            BOUNDARY,
            restore=_reput_role_boundary,
        ),
        Row(pb, "CreateUser", {"UserName": "bounded", "PermissionsBoundary": BOUNDARY}, BOUNDARY),
        Row(
            pb,
            "CreateRole",
            {
                "RoleName": "bounded",
                "AssumeRolePolicyDocument": TRUST,
                "PermissionsBoundary": BOUNDARY,
            },
            BOUNDARY,
        ),
    ]
    for kind, name in (("User", bob), ("Group", {"GroupName": "devs"}), ("Role", app)):
        rows.append(
            Row("iam:PolicyARN", f"Attach{kind}Policy", {**name, "PolicyArn": OTHER}, OTHER)
        )
        rows.append(
            Row("iam:PolicyARN", f"Detach{kind}Policy", {**name, "PolicyArn": READ_ONLY}, READ_ONLY)
        )
    # The target's tags: aws:ResourceTag on every tagged resource, iam:ResourceTag on users
    # and roles, including the inline-policy and attachment operations of an owner.
    for key in ("aws:ResourceTag/team", "iam:ResourceTag/team"):
        rows += [
            Row(key, "GetUser", bob, "blue"),
            Row(key, "GetRole", app, "blue"),
            Row(key, "GetUserPolicy", {**bob, "PolicyName": "keep"}, "blue"),
            Row(key, "PutUserPolicy", {**bob, "PolicyName": "keep", "PolicyDocument": DOC}, "blue"),
            Row(key, "DeleteRolePolicy", {**app, "PolicyName": "absent"}, "blue"),
            Row(key, "ListRolePolicies", app, "blue"),
            Row(key, "AttachUserPolicy", {**bob, "PolicyArn": OTHER}, "blue"),
            Row(key, "DetachRolePolicy", {**app, "PolicyArn": READ_ONLY}, "blue"),
            Row(key, "ListAttachedUserPolicies", bob, "blue"),
        ]
    rt = "aws:ResourceTag/team"
    rows += [
        Row(rt, "GetPolicy", {"PolicyArn": BOUNDARY}, "blue"),
        Row(rt, "GetPolicyVersion", {"PolicyArn": BOUNDARY, "VersionId": "v1"}, "blue"),
        Row(rt, "ListPolicyTags", {"PolicyArn": BOUNDARY}, "blue"),
        Row(rt, "GetInstanceProfile", {"InstanceProfileName": "web"}, "blue"),
        Row(rt, "GetOpenIDConnectProvider", {"OpenIDConnectProviderArn": OIDC}, "blue"),
        Row(rt, "ListMFADeviceTags", {"SerialNumber": MFA}, "blue"),
        # The account that owns the resource.
        Row("aws:ResourceAccount", "GetUser", bob, ACCOUNT, "111122223333"),
        Row("aws:ResourceAccount", "GetPolicy", {"PolicyArn": BOUNDARY}, ACCOUNT, "111122223333"),
        # Direct calls: no AWS service acts for anyone.
        Row("aws:ViaAWSService", "GetUser", bob, "false", "true"),
        Row("aws:PrincipalIsAWSService", "GetUser", bob, "false", "true"),
        # IAM's one endpoint is us-east-1, whatever region the client signed for.
        Row("aws:RequestedRegion", "GetUser", bob, "us-east-1", "eu-west-1"),
        Row(
            "aws:RequestedRegion",
            "GetAccessKeyInfo",
            {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE"},
            "eu-west-1",
            "us-east-1",
            service="sts",
        ),
        # Who is calling, from where.
        Row("aws:PrincipalArn", "GetUser", bob, f"{IAM}:user/admin"),
        Row("aws:PrincipalAccount", "GetUser", bob, ACCOUNT, "111122223333"),
        Row("aws:PrincipalType", "GetUser", bob, "User", "AssumedRole"),
        Row("aws:username", "GetUser", bob, "admin"),
        Row("aws:PrincipalTag/dept", "GetUser", bob, "ops"),
        Row("aws:SourceIp", "GetUser", bob, "203.0.113.7"),
        Row("aws:UserAgent", "GetUser", bob, "Boto3/1.35 test"),
        Row("aws:SecureTransport", "GetUser", bob, "true", "false"),
        Row("aws:CurrentTime", "GetUser", bob, "2026-11-27T12:00:00Z"),
        Row("aws:EpochTime", "GetUser", bob, "1795780800"),
        # What the request asks for.
        Row("aws:RequestTag/team", "TagUser", {**bob, "Tags": TEAM}, "blue"),
        Row("aws:TagKeys", "UntagRole", {**app, "TagKeys": ["gone"]}, "gone"),
    ]
    return rows


ROWS = _rows()


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_key_has_awss_value(world: World, row: Row) -> None:
    action = f"{row.service}:{row.operation}"
    region = "eu-west-1"  # signed for another region: IAM still reports us-east-1
    world.allow_only_if(action, {"StringEquals": {row.key: row.wrong}})
    assert world.attempt(row.operation, row.params, service=row.service, region=region) == (
        "denied"
    )
    world.allow_only_if(action, {"StringEquals": {row.key: row.value}})
    assert world.attempt(row.operation, row.params, service=row.service, region=region) == (
        "authorized"
    )
    if row.restore is not None:
        row.restore(world)


def test_create_user_without_boundary_has_no_boundary_key(world: World) -> None:
    world.allow_only_if("iam:CreateUser", {"Null": {"iam:PermissionsBoundary": "false"}})
    assert world.attempt("CreateUser", {"UserName": "free"}) == "denied"
    world.allow_only_if("iam:AttachUserPolicy", {"Null": {"iam:PermissionsBoundary": "true"}})
    assert world.attempt("AttachUserPolicy", {"UserName": "carol", "PolicyArn": OTHER}) == (
        "authorized"
    )


def test_boundary_key_only_where_aws_sets_it(world: World) -> None:
    """GetUser and ListUserPolicies are not among the actions that carry the key."""
    for operation, params in (
        ("GetUser", {"UserName": "bob"}),
        ("ListUserPolicies", {"UserName": "bob"}),
    ):
        world.allow_only_if(f"iam:{operation}", {"Null": {"iam:PermissionsBoundary": "true"}})
        assert world.attempt(operation, params) == "authorized"


@pytest.mark.parametrize(
    "key",
    [
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:SourceArn",
        "aws:SourceAccount",
        "aws:TokenIssueTime",
        "aws:MultiFactorAuthPresent",
    ],
)
def test_absent_for_a_direct_call_with_an_access_key(world: World, key: str) -> None:
    world.allow_only_if("iam:GetUser", {"Null": {key: "true"}})
    assert world.attempt("GetUser", {"UserName": "bob"}) == "authorized"


def test_session_keys(world: World) -> None:
    """A temporary-credential session carries aws:TokenIssueTime (when it was issued) and,
    once MFA was used, aws:MultiFactorAuthPresent and a consistent aws:MultiFactorAuthAge."""
    now = world.clock()
    session = world.admin(
        access_key_id="ASIATESTTESTTESTTEST",
        session_token_id="s1",
        token_issued_at=now - timedelta(minutes=5),
        mfa_authenticated_at=now - timedelta(minutes=5),
    )
    checks: list[dict[str, Any]] = [
        {"StringEquals": {"aws:TokenIssueTime": "2026-11-27T11:55:00Z"}},
        {"DateLessThan": {"aws:TokenIssueTime": "2026-11-27T12:00:00Z"}},
        {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        {"NumericEquals": {"aws:MultiFactorAuthAge": "300"}},
        {"Null": {"aws:CalledVia": "true", "aws:ViaAWSService": "false"}},
    ]
    for condition in checks:
        world.allow_only_if("iam:GetUser", condition)
        assert world.attempt("GetUser", {"UserName": "bob"}, caller=session) == "authorized"
    world.allow_only_if("iam:GetUser", {"NumericLessThan": {"aws:MultiFactorAuthAge": "60"}})
    assert world.attempt("GetUser", {"UserName": "bob"}, caller=session) == "denied"
    no_mfa = world.admin(
        access_key_id="ASIATESTTESTTESTTEST2",
        session_token_id="s2",
        token_issued_at=now,
    )
    world.allow_only_if("iam:GetUser", {"Bool": {"aws:MultiFactorAuthPresent": "false"}})
    assert world.attempt("GetUser", {"UserName": "bob"}, caller=no_mfa) == "authorized"
    world.allow_only_if("iam:GetUser", {"Null": {"aws:MultiFactorAuthAge": "true"}})
    assert world.attempt("GetUser", {"UserName": "bob"}, caller=no_mfa) == "authorized"


def test_assume_role_carries_the_roles_tags_and_sts_keys(world: World) -> None:
    params = {
        "RoleArn": f"{IAM}:role/app",
        "RoleSessionName": "build-7",
        "ExternalId": "ext-1",
        "SourceIdentity": "admin-src",
    }
    for key, value in (
        ("iam:ResourceTag/team", "blue"),
        ("aws:ResourceTag/team", "blue"),
        ("sts:RoleSessionName", "build-7"),
        ("sts:ExternalId", "ext-1"),
        ("sts:SourceIdentity", "admin-src"),
        ("aws:ResourceAccount", ACCOUNT),
        ("aws:RequestedRegion", "eu-west-1"),
    ):
        # A SourceIdentity is also sts:SetSourceIdentity, asked with the same keys.
        actions = ["sts:AssumeRole", "sts:SetSourceIdentity"]
        world.allow_only_if(actions, {"StringEquals": {key: "other"}})
        assert world.attempt("AssumeRole", params, service="sts", region="eu-west-1") == "denied"
        world.allow_only_if(actions, {"StringEquals": {key: value}})
        outcome = world.attempt("AssumeRole", params, service="sts", region="eu-west-1")
        assert outcome == "authorized", key


def test_get_session_token_session_carries_token_issue_time(world: World) -> None:
    """GetSessionToken's credentials, authenticated as a request would be, carry
    aws:TokenIssueTime: when they were issued (not when they are used)."""
    world.root("CreateUser", UserName="sessioner")
    key = world.root("CreateAccessKey", UserName="sessioner")["AccessKey"]
    scope = ("20261127", "us-east-1", "iam")
    long_term, _ = world.runtime.authenticate_access_key(key["AccessKeyId"], scope)
    issued = world.clock()
    info = RequestInfo(request_id=new_request_id(), now=issued, service="sts")
    creds = world.runtime.invoke("sts", "GetSessionToken", {}, long_term, info)["Credentials"]
    world.clock.now += timedelta(minutes=10)
    try:
        session, _ = world.runtime.authenticate_access_key(
            creds["AccessKeyId"], scope, creds["SessionToken"]
        )
    finally:
        world.clock.now = issued
    assert session.token_issued_at is not None
    context = request_context(session, RequestInfo(request_id="r", now=issued))
    assert context.get("aws:TokenIssueTime") == ("2026-11-27T12:00:00Z",)
    assert context.get("aws:MultiFactorAuthPresent") == ("false",)
    assert context.get("aws:CalledVia") is None


def test_pass_role_sees_the_roles_tags(world: World) -> None:
    """AddRoleToInstanceProfile passes the role: iam:PassRole on it carries its tags."""
    params = {"InstanceProfileName": "web", "RoleName": "app"}
    for key in ("iam:ResourceTag/team", "aws:ResourceTag/team"):
        for value, expected in (("red", "denied"), ("blue", "authorized")):
            statements = [
                {"Effect": "Allow", "Action": "iam:AddRoleToInstanceProfile", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": "*",
                    "Condition": {"StringEquals": {key: value}},
                },
            ]
            world.root(
                "PutUserPolicy",
                UserName="admin",
                PolicyName="only-if",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
            )
            assert world.attempt("AddRoleToInstanceProfile", params) == expected
        world.root("RemoveRoleFromInstanceProfile", **params)


def test_pass_role_carries_passed_to_service(world: World) -> None:
    """IAM User Guide, iam:PassedToService: AddRoleToInstanceProfile passes the role to
    EC2, so a PassRole allowed only for ec2.amazonaws.com permits it, another service's
    does not."""
    params = {"InstanceProfileName": "web", "RoleName": "app"}
    for service, expected in (("lambda.amazonaws.com", "denied"), ("ec2.amazonaws.com", "ok")):
        statements = [
            {"Effect": "Allow", "Action": "iam:AddRoleToInstanceProfile", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": service}},
            },
        ]
        world.root(
            "PutUserPolicy",
            UserName="admin",
            PolicyName="only-if",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        outcome = world.attempt("AddRoleToInstanceProfile", params)
        assert outcome == ("denied" if expected == "denied" else "authorized")
    world.root("RemoveRoleFromInstanceProfile", **params)
