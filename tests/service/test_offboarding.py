"""One-step offboarding: everything of a user's gone in one transaction, their keys and
sessions refused at once, and authorized as the sum of its parts (nothing removed otherwise)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select
from tests.domain.test_certificates import make_certificate
from tests.domain.test_ssh_keys import ed25519_public_key, openssh
from tests.service.conftest import ACCOUNT, Call, Clock, denied, fails

from selfiam.auth.passwords import PasswordHasher
from selfiam.domain.arns import user_arn
from selfiam.domain.identifiers import new_request_id
from selfiam.service.audit import read_records
from selfiam.service.bootstrap import self_service_policy_document
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.offboarding import OffboardingPlan, offboard_user, plan_offboarding
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction

IAM = ("20261127", "us-east-1", "iam")
BOB_ARN = f"arn:aws:iam::{ACCOUNT}:user/staff/bob"
BOB_MFA = f"arn:aws:iam::{ACCOUNT}:mfa/bob"
AUDITORS = f"arn:aws:iam::{ACCOUNT}:group/Auditors"
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
BOUNDARY = "arn:aws:iam::aws:policy/IAMUserChangePassword"
CONSTITUENTS = [
    "iam:DeleteAccessKey",
    "iam:DeleteSigningCertificate",
    "iam:DeleteSSHPublicKey",
    "iam:DeleteServiceSpecificCredential",
    "iam:DeactivateMFADevice",
    "iam:DeleteVirtualMFADevice",
    "iam:DeleteLoginProfile",
    "iam:DeleteUserPolicy",
    "iam:DetachUserPolicy",
    "iam:DeleteUserPermissionsBoundary",
    "iam:RemoveUserFromGroup",
    "iam:DeleteUser",
]
USER_TABLES = [
    t.access_keys,
    t.signing_certificates,
    t.ssh_public_keys,
    t.service_specific_credentials,
    t.mfa_devices,
    t.login_profiles,
    t.password_history,
    t.user_policy_attachments,
    t.group_members,
    t.sts_sessions,
]


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def info(runtime: Runtime) -> RequestInfo:
    return RequestInfo(request_id=new_request_id(), now=runtime.clock(), service="selfiam")


class Bob:
    """bob with one of every kind of credential, policy and membership, and an MFA session."""

    def __init__(self, call: Call, runtime: Runtime, clock: Clock) -> None:
        self.runtime = runtime
        runtime.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        created = call(
            "CreateUser", UserName="bob", Path="/staff/", Tags=[{"Key": "team", "Value": "ops"}]
        )
        self.user_id = created["User"]["UserId"]
        self.keys = [call("CreateAccessKey", UserName="bob")["AccessKey"] for _ in range(2)]
        call("CreateLoginProfile", UserName="bob", Password="Correct-Horse-9-battery")
        device = call("CreateVirtualMFADevice", VirtualMFADeviceName="bob")["VirtualMFADevice"]
        app = pyotp.TOTP(device["Base32StringSeed"].decode())
        call(
            "EnableMFADevice",
            UserName="bob",
            SerialNumber=BOB_MFA,
            AuthenticationCode1=app.at(clock() - timedelta(seconds=30)),
            AuthenticationCode2=app.at(clock()),
        )
        clock.now += timedelta(seconds=30)
        cert = make_certificate(not_before=clock.now - timedelta(days=1))
        self.cert_id = call("UploadSigningCertificate", UserName="bob", CertificateBody=cert)[
            "Certificate"
        ]["CertificateId"]
        self.ssh_id = call(
            "UploadSSHPublicKey", UserName="bob", SSHPublicKeyBody=openssh(ed25519_public_key())
        )["SSHPublicKey"]["SSHPublicKeyId"]
        self.credential_id = call(
            "CreateServiceSpecificCredential",
            UserName="bob",
            ServiceName="codecommit.amazonaws.com",
        )["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
        call(
            "PutUserPolicy",
            UserName="bob",
            PolicyName="own",
            PolicyDocument=policy(allow(["iam:Get*", "iam:List*"])),
        )
        self.custom = call(
            "CreatePolicy", PolicyName="Deploy", PolicyDocument=policy(allow(["iam:GetUser"]))
        )["Policy"]["Arn"]
        call("AttachUserPolicy", UserName="bob", PolicyArn=self.custom)
        call("AttachUserPolicy", UserName="bob", PolicyArn=READ_ONLY)
        call("PutUserPermissionsBoundary", UserName="bob", PermissionsBoundary=BOUNDARY)
        for group in ("Auditors", "Builders"):
            call("CreateGroup", GroupName=group)
            call("AddUserToGroup", GroupName=group, UserName="bob")
        long_term = self.caller()
        self.session = call(
            "GetSessionToken",
            service="sts",
            caller=long_term,
            SerialNumber=BOB_MFA,
            TokenCode=app.at(clock()),
        )["Credentials"]

    def caller(self, index: int = 0) -> Caller:
        return self.runtime.authenticate_access_key(self.keys[index]["AccessKeyId"], IAM)[0]

    def session_caller(self) -> Caller:
        return self.runtime.authenticate_access_key(
            self.session["AccessKeyId"], IAM, session_token=self.session["SessionToken"]
        )[0]

    def rows(self) -> dict[str, int]:
        """How many rows of bob's each table holds (plus his user row, tags, inline policies)."""
        with read_transaction(self.runtime.engine) as conn:
            counts = {
                table.name: conn.execute(
                    select(func.count()).select_from(table).where(table.c.user_id == self.user_id)
                ).scalar_one()
                for table in [t.users, *USER_TABLES]
            }
            counts["tags"] = conn.execute(
                select(func.count()).select_from(t.tags).where(t.tags.c.resource_id == self.user_id)
            ).scalar_one()
            counts["inline_policies"] = conn.execute(
                select(func.count())
                .select_from(t.inline_policies)
                .where(t.inline_policies.c.owner_id == self.user_id)
            ).scalar_one()
            counts["mfa devices"] = conn.execute(
                select(func.count())
                .select_from(t.mfa_devices)
                .where(t.mfa_devices.c.serial_number == BOB_MFA)
            ).scalar_one()
        return counts


@pytest.fixture
def bob(call: Call, runtime: Runtime, clock: Clock) -> Bob:
    return Bob(call, runtime, clock)


@pytest.fixture
def admin(call: Call, caller_for: Callable[[str], Caller]) -> Callable[[str], Caller]:
    """An admin user holding the given policy document."""

    def make(document: str) -> Caller:
        call("CreateUser", UserName="admin")
        call("PutUserPolicy", UserName="admin", PolicyName="admin", PolicyDocument=document)
        return caller_for("admin")

    return make


# -- the plan -----------------------------------------------------------------------------


def test_the_plan_lists_everything(bob: Bob, runtime: Runtime, clock: Clock) -> None:
    plan = plan_offboarding(runtime, Caller.root(ACCOUNT), "BOB")  # names are case-insensitive
    assert plan.user_name == "bob" and plan.user_arn == BOB_ARN
    assert {k.id for k in plan.access_keys} == {k["AccessKeyId"] for k in bob.keys}
    assert {k.status for k in plan.access_keys} == {"Active"}
    assert [c.id for c in plan.signing_certificates] == [bob.cert_id]
    assert [k.id for k in plan.ssh_public_keys] == [bob.ssh_id]
    assert [c.id for c in plan.service_credentials] == [bob.credential_id]
    assert plan.mfa_devices == (BOB_MFA,)
    assert plan.login_profile
    assert plan.inline_policies == ("own",)
    assert set(plan.attached_policies) == {bob.custom, READ_ONLY}
    assert plan.permissions_boundary == BOUNDARY
    assert plan.groups == (
        ("Auditors", AUDITORS),
        ("Builders", f"arn:aws:iam::{ACCOUNT}:group/Builders"),
    )
    assert [s.access_key_id for s in plan.sts_sessions] == [bob.session["AccessKeyId"]]
    assert plan.tags == (("team", "ops"),)
    titles = [title for title, _ in plan.sections()]
    assert titles[0] == "Access keys" and "Group memberships" in titles
    assert "Portal sessions" not in titles  # none (or no portal table yet)
    assert bob.rows()["users"] == 1  # planning removes nothing


def test_an_empty_user_plans_to_nothing_but_the_user(call: Call, runtime: Runtime) -> None:
    call("CreateUser", UserName="carol")
    plan = plan_offboarding(runtime, Caller.root(ACCOUNT), "carol")
    assert plan.sections() == []
    assert plan == OffboardingPlan(
        user_name="carol",
        user_id=plan.user_id,
        user_arn=user_arn(ACCOUNT, "carol"),
        access_keys=(),
        signing_certificates=(),
        ssh_public_keys=(),
        mfa_devices=(),
        login_profile=False,
        inline_policies=(),
        attached_policies=(),
        permissions_boundary=None,
        groups=(),
        sts_sessions=(),
        portal_sessions=0,
        tags=(),
    )


# -- offboarding ------------------------------------------------------------------------


def test_offboarding_removes_everything_and_access_stops_at_once(
    bob: Bob, call: Call, runtime: Runtime
) -> None:
    assert bob.caller().user_name == "bob"  # authenticated (and cached) before
    assert bob.session_caller().is_temporary
    request = info(runtime)
    report = offboard_user(runtime, Caller.root(ACCOUNT), "bob", request)
    assert report.request_id == request.request_id and report.removed_at == request.now
    assert report.plan.user_arn == BOB_ARN and len(report.plan.access_keys) == 2

    assert set(bob.rows().values()) == {0}
    for index in (0, 1):
        fails("InvalidClientTokenId", None, bob.caller, index)
    fails("InvalidClientTokenId", None, bob.session_caller)
    fails("NoSuchEntity", None, call, "GetUser", UserName="bob")
    # What was shared stays: groups, managed policies.
    assert call("GetGroup", GroupName="Auditors")["Users"] == []
    assert call("GetPolicy", PolicyArn=bob.custom)["Policy"]["AttachmentCount"] == 0
    fails("NoSuchEntity", None, call, "ListMFADeviceTags", SerialNumber=BOB_MFA)


def test_one_audit_record_names_the_user(bob: Bob, runtime: Runtime) -> None:
    offboard_user(runtime, Caller.root(ACCOUNT), "bob", info(runtime))
    runtime.audit.flush()
    records = read_records(runtime.engine, action="selfiam:OffboardUser")
    assert len(records) == 1
    record = records[0]
    assert record.resource == BOB_ARN and record.decision == "allowed"
    assert record.caller_arn == f"arn:aws:iam::{ACCOUNT}:root" and record.error_code is None


def test_the_name_can_be_reused_afterwards(bob: Bob, call: Call, runtime: Runtime) -> None:
    offboard_user(runtime, Caller.root(ACCOUNT), "bob", info(runtime))
    again = call("CreateUser", UserName="bob")["User"]
    assert again["UserId"] != bob.user_id
    assert plan_offboarding(runtime, Caller.root(ACCOUNT), "bob").sections() == []


def test_an_unknown_user(runtime: Runtime) -> None:
    err = fails(
        "NoSuchEntity", None, offboard_user, runtime, Caller.root(ACCOUNT), "nobody", info(runtime)
    )
    assert err.message == "The user with name nobody cannot be found."


# -- authorization as the sum of its parts ----------------------------------------------------


def test_an_admin_allowed_every_part_offboards(
    bob: Bob, runtime: Runtime, admin: Callable[[str], Caller]
) -> None:
    caller = admin(policy(allow(CONSTITUENTS)))
    offboard_user(runtime, caller, "bob", info(runtime))
    assert set(bob.rows().values()) == {0}


@pytest.mark.parametrize(
    ("missing", "resource"),
    [
        ("iam:DeleteAccessKey", BOB_ARN),
        ("iam:DeleteSigningCertificate", BOB_ARN),
        ("iam:DeleteSSHPublicKey", BOB_ARN),
        ("iam:DeleteServiceSpecificCredential", BOB_ARN),
        ("iam:DeactivateMFADevice", BOB_ARN),
        ("iam:DeleteVirtualMFADevice", BOB_MFA),
        ("iam:DeleteLoginProfile", BOB_ARN),
        ("iam:DeleteUserPolicy", BOB_ARN),
        ("iam:DetachUserPolicy", BOB_ARN),
        ("iam:DeleteUserPermissionsBoundary", BOB_ARN),
        ("iam:RemoveUserFromGroup", AUDITORS),
        ("iam:DeleteUser", BOB_ARN),
    ],
)
def test_lacking_any_part_is_refused_and_nothing_is_removed(
    bob: Bob, runtime: Runtime, admin: Callable[[str], Caller], missing: str, resource: str
) -> None:
    caller = admin(policy(allow([a for a in CONSTITUENTS if a != missing])))
    before = bob.rows()
    for attempt in (
        lambda: offboard_user(runtime, caller, "bob", info(runtime)),
        lambda: plan_offboarding(runtime, caller, "bob"),
    ):
        err = fails("AccessDenied", None, attempt)
        assert err.message == denied("admin", missing, resource)
    assert bob.rows() == before
    assert bob.caller().user_name == "bob"
    assert bob.session_caller().is_temporary
    runtime.audit.flush()
    (record,) = read_records(runtime.engine, action="selfiam:OffboardUser")
    assert record.decision == "implicitDeny" and record.error_code == "AccessDenied"
    assert record.resource == resource


def test_the_parts_are_checked_on_their_own_resources_and_context(
    bob: Bob, runtime: Runtime, admin: Callable[[str], Caller]
) -> None:
    """Detaching is allowed for one policy only (iam:PolicyARN): bob has two attached."""
    caller = admin(
        policy(
            allow(
                [a for a in CONSTITUENTS if a != "iam:DetachUserPolicy"],
                f"arn:aws:iam::{ACCOUNT}:*",
            ),
            allow(
                ["iam:DetachUserPolicy"],
                Condition={"ArnEquals": {"iam:PolicyARN": READ_ONLY}},
            ),
        )
    )
    err = fails("AccessDenied", None, offboard_user, runtime, caller, "bob", info(runtime))
    assert err.message == denied("admin", "iam:DetachUserPolicy", BOB_ARN)
    assert bob.rows()["users"] == 1


def test_an_explicit_deny_on_one_part_wins(
    bob: Bob, runtime: Runtime, admin: Callable[[str], Caller]
) -> None:
    caller = admin(
        policy(
            allow(["iam:*"]),
            {"Effect": "Deny", "Action": "iam:RemoveUserFromGroup", "Resource": AUDITORS},
        )
    )
    err = fails("AccessDenied", None, offboard_user, runtime, caller, "bob", info(runtime))
    assert "iam:RemoveUserFromGroup" in err.message and "explicit deny" in err.message
    assert bob.rows()["group_members"] == 2


def test_only_the_parts_present_are_asked_for(
    call: Call, runtime: Runtime, admin: Callable[[str], Caller]
) -> None:
    """A user with nothing but a key needs DeleteAccessKey and DeleteUser, as step by step."""
    call("CreateUser", UserName="carol")
    key = call("CreateAccessKey", UserName="carol")["AccessKey"]["AccessKeyId"]
    caller = admin(policy(allow(["iam:DeleteAccessKey", "iam:DeleteUser"])))
    report = offboard_user(runtime, caller, "carol", info(runtime))
    assert [k.id for k in report.plan.access_keys] == [key]


def test_unknown_users_are_reported_only_to_those_allowed(
    runtime: Runtime, admin: Callable[[str], Caller]
) -> None:
    caller = admin(policy(allow(["iam:GetUser"])))
    err = fails("AccessDenied", None, offboard_user, runtime, caller, "nobody", info(runtime))
    assert err.message == denied("admin", "iam:DeleteUser", user_arn(ACCOUNT, "nobody"))


def test_a_member_cannot_offboard_another_or_themselves(
    bob: Bob, call: Call, runtime: Runtime, caller_for: Callable[[str], Caller]
) -> None:
    call("CreateUser", UserName="alice")
    call("CreateGroup", GroupName="SelfService")
    call(
        "PutGroupPolicy",
        GroupName="SelfService",
        PolicyName="SelfServiceCredentials",
        PolicyDocument=self_service_policy_document(),
    )
    call("AddUserToGroup", GroupName="SelfService", UserName="alice")
    alice = caller_for("alice")
    fails("AccessDenied", None, offboard_user, runtime, alice, "bob", info(runtime))
    fails("AccessDenied", None, offboard_user, runtime, alice, "alice", info(runtime))
    fails("AccessDenied", None, offboard_user, runtime, bob.session_caller(), "bob", info(runtime))
    assert bob.rows()["users"] == 1


def test_session_credentials_without_mfa_call_no_iam_action(
    bob: Bob, call: Call, runtime: Runtime, admin: Callable[[str], Caller]
) -> None:
    caller = admin(policy(allow(["iam:*"])))
    call("CreateAccessKey", UserName="admin")
    key = call("CreateAccessKey", UserName="admin")["AccessKey"]
    long_term = runtime.authenticate_access_key(key["AccessKeyId"], IAM)[0]
    creds = call("GetSessionToken", service="sts", caller=long_term)["Credentials"]
    session = runtime.authenticate_access_key(
        creds["AccessKeyId"], IAM, session_token=creds["SessionToken"]
    )[0]
    fails("InvalidClientTokenId", None, offboard_user, runtime, session, "bob", info(runtime))
    assert bob.rows()["users"] == 1
    assert caller.user_name == "admin"
