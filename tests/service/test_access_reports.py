"""Service last accessed, from selfiam's own trail (issue 15).

AWS's IAM API reference: GenerateServiceLastAccessedDetails (Arn of a user, group, role or
policy; Granularity SERVICE_LEVEL|ACTION_LEVEL) returns a JobId;
GetServiceLastAccessedDetails lists the services the entity's policies allow, with the last
authenticated attempt ("AWS does not report unauthenticated requests"),
LastAuthenticatedEntity, LastAuthenticatedRegion and TotalAuthenticatedEntities, and at
ACTION_LEVEL TrackedActionsLastAccessed; GetServiceLastAccessedDetailsWithEntities lists the
entities that used one namespace; ListPoliciesGrantingServiceAccess says which policies
grant each namespace.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from tests.service.conftest import ACCOUNT, Call, Clock, fails

from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def _doc(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def team(call: Call, caller_for: Callable[[str], Caller]) -> Callable[[str], Caller]:
    """alice and bob in group devs, which may read IAM and get its session token; alice
    also has an inline S3 policy."""
    for name in ("alice", "bob"):
        call("CreateUser", UserName=name)
    call("CreateGroup", GroupName="devs")
    for name in ("alice", "bob"):
        call("AddUserToGroup", GroupName="devs", UserName=name)
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=READ_ONLY)
    call(
        "PutGroupPolicy",
        GroupName="devs",
        PolicyName="sts",
        PolicyDocument=_doc({"Effect": "Allow", "Action": "sts:GetSessionToken", "Resource": "*"}),
    )
    call(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="s3",
        PolicyDocument=_doc({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}),
    )
    return caller_for


def _report(call: Call, runtime: Runtime, arn: str, granularity: str = "SERVICE_LEVEL") -> dict:
    runtime.audit.flush()
    job = call("GenerateServiceLastAccessedDetails", Arn=arn, Granularity=granularity)["JobId"]
    return call("GetServiceLastAccessedDetails", JobId=job) | {"JobId": job}


def _by_namespace(report: dict) -> dict[str, dict]:
    return {s["ServiceNamespace"]: s for s in report["ServicesLastAccessed"]}


def test_lists_the_granted_services_and_the_last_attempt(
    call: Call, runtime: Runtime, clock: Clock, team: Callable[[str], Caller]
) -> None:
    alice = team("alice")
    call("ListUsers", caller=alice)
    clock.now += timedelta(minutes=5)
    # a denied attempt counts too: AWS reports every authenticated attempt
    fails("AccessDenied", None, call, "CreateUser", caller=alice, UserName="x")
    report = _report(call, runtime, ALICE)
    assert report["JobStatus"] == "COMPLETED"
    assert report["JobType"] == "SERVICE_LEVEL"
    services = _by_namespace(report)
    # IAMReadOnlyAccess grants iam, the inline policies grant sts and s3: nothing else
    assert set(services) == {"iam", "s3", "sts"}
    iam = services["iam"]
    assert iam["ServiceName"] == "AWS Identity and Access Management (IAM)"
    assert iam["LastAuthenticated"] == clock.now
    assert iam["LastAuthenticatedEntity"] == ALICE
    assert iam["LastAuthenticatedRegion"] == "us-east-1"
    assert iam["TotalAuthenticatedEntities"] == 1
    assert "LastAuthenticated" not in services["s3"]
    assert services["s3"]["TotalAuthenticatedEntities"] == 0


def test_action_level_tracks_iam_and_sts_actions(
    call: Call, runtime: Runtime, team: Callable[[str], Caller]
) -> None:
    call("ListUsers", caller=team("alice"))
    report = _report(call, runtime, ALICE, "ACTION_LEVEL")
    assert report["JobType"] == "ACTION_LEVEL"
    services = _by_namespace(report)
    tracked = {a["ActionName"]: a for a in services["iam"]["TrackedActionsLastAccessed"]}
    assert tracked["ListUsers"]["LastAccessedEntity"] == ALICE
    assert "LastAccessedTime" not in tracked["GetUser"]
    assert "CreateUser" not in tracked  # read-only: not granted, not listed
    assert "TrackedActionsLastAccessed" not in services["s3"]


def test_group_report_names_the_members_who_used_a_service(
    call: Call, runtime: Runtime, clock: Clock, team: Callable[[str], Caller]
) -> None:
    call("ListUsers", caller=team("alice"))
    clock.now += timedelta(minutes=1)
    call("ListGroups", caller=team("bob"))
    report = _report(call, runtime, f"arn:aws:iam::{ACCOUNT}:group/devs")
    services = _by_namespace(report)
    assert set(services) == {"iam", "sts"}  # alice's own s3 policy is not the group's
    assert services["iam"]["TotalAuthenticatedEntities"] == 2
    assert services["iam"]["LastAuthenticatedEntity"].endswith(":user/bob")
    entities = call(
        "GetServiceLastAccessedDetailsWithEntities", JobId=report["JobId"], ServiceNamespace="iam"
    )
    names = [e["EntityInfo"]["Name"] for e in entities["EntityDetailsList"]]
    assert names == ["bob", "alice"]  # the latest first
    assert entities["EntityDetailsList"][0]["EntityInfo"]["Type"] == "USER"
    page = call(
        "GetServiceLastAccessedDetailsWithEntities",
        JobId=report["JobId"],
        ServiceNamespace="iam",
        MaxItems=1,
    )
    assert page["IsTruncated"] is True
    rest = call(
        "GetServiceLastAccessedDetailsWithEntities",
        JobId=report["JobId"],
        ServiceNamespace="iam",
        Marker=page["Marker"],
    )
    assert [e["EntityInfo"]["Name"] for e in rest["EntityDetailsList"]] == ["alice"]


def test_role_sessions_count_for_the_role(call: Call, runtime: Runtime) -> None:
    call("CreateUser", UserName="alice")
    key = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    trust = _doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
        }
    )
    call("CreateRole", RoleName="deploy", AssumeRolePolicyDocument=trust)
    call("AttachRolePolicy", RoleName="deploy", PolicyArn=READ_ONLY)
    call(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="assume",
        PolicyDocument=_doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
    )
    scope = ("20261127", "us-east-1", "sts")
    alice = runtime.authenticate_access_key(key, scope)[0]
    creds = call(
        "AssumeRole",
        service="sts",
        caller=alice,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/deploy",
        RoleSessionName="s1",
    )["Credentials"]
    session = runtime.authenticate_access_key(creds["AccessKeyId"], scope, creds["SessionToken"])[0]
    call("ListRoles", caller=session)
    role = f"arn:aws:iam::{ACCOUNT}:role/deploy"
    iam = _by_namespace(_report(call, runtime, role))["iam"]
    assert iam["LastAuthenticatedEntity"] == role
    # the policy's report: who has it attached, the role's session among them
    policy_report = _report(call, runtime, READ_ONLY)
    assert _by_namespace(policy_report)["iam"]["TotalAuthenticatedEntities"] == 1


def test_list_policies_granting_service_access(call: Call, team: Callable[[str], Caller]) -> None:
    answer = call(
        "ListPoliciesGrantingServiceAccess", Arn=ALICE, ServiceNamespaces=["iam", "s3", "ec2"]
    )
    granting = {
        g["ServiceNamespace"]: g["Policies"] for g in answer["PoliciesGrantingServiceAccess"]
    }
    assert granting["iam"] == [
        {"PolicyName": "IAMReadOnlyAccess", "PolicyType": "MANAGED", "PolicyArn": READ_ONLY}
    ]
    assert granting["s3"] == [
        {"PolicyName": "s3", "PolicyType": "INLINE", "EntityType": "USER", "EntityName": "alice"}
    ]
    assert granting["ec2"] == []
    assert answer["IsTruncated"] is False


@pytest.mark.parametrize(
    ("operation", "params", "code"),
    [
        # AWS: NoSuchEntity for an entity that does not exist
        (
            "GenerateServiceLastAccessedDetails",
            {"Arn": f"arn:aws:iam::{ACCOUNT}:user/nobody"},
            "NoSuchEntity",
        ),
        (
            "GenerateServiceLastAccessedDetails",
            {"Arn": "arn:aws:iam::210987654321:user/alice"},
            "NoSuchEntity",
        ),
        # AWS: InvalidInput for a value that is not valid (an ARN of no entity; a job id)
        ("GenerateServiceLastAccessedDetails", {"Arn": "arn:aws:s3:::bucket"}, "InvalidInput"),
        ("GetServiceLastAccessedDetails", {"JobId": "0" * 36}, "InvalidInput"),
        (
            "GetServiceLastAccessedDetailsWithEntities",
            {"JobId": "0" * 36, "ServiceNamespace": "iam"},
            "InvalidInput",
        ),
        (
            "ListPoliciesGrantingServiceAccess",
            {"Arn": f"arn:aws:iam::{ACCOUNT}:role/none", "ServiceNamespaces": ["iam"]},
            "NoSuchEntity",
        ),
    ],
)
def test_errors(call: Call, operation: str, params: dict, code: str) -> None:
    call("CreateUser", UserName="alice")
    fails(code, None, call, operation, **params)


def test_only_authorized_callers_may_generate(call: Call, team: Callable[[str], Caller]) -> None:
    call("CreateUser", UserName="carol")
    carol = team("carol")  # no policy: every operation of the report is denied
    fails("AccessDenied", None, call, "GenerateServiceLastAccessedDetails", caller=carol, Arn=ALICE)
    job = call("GenerateServiceLastAccessedDetails", Arn=ALICE)["JobId"]
    fails("AccessDenied", None, call, "GetServiceLastAccessedDetails", caller=carol, JobId=job)
    fails(
        "AccessDenied",
        None,
        call,
        "ListPoliciesGrantingServiceAccess",
        caller=carol,
        Arn=ALICE,
        ServiceNamespaces=["iam"],
    )
