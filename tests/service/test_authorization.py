"""Policy changes change what a user may do, at once: attachments, default versions,
explicit denies, permissions boundaries, ``iam:PolicyARN`` and ``${aws:username}``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from tests.service.conftest import ACCOUNT, Call

from selfiam.auth.secretbox import SecretBox
from selfiam.domain.errors import AccessDenied, InvalidClientTokenId
from selfiam.domain.identifiers import new_request_id
from selfiam.service.bootstrap import self_service_policy_document
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store.engine import create_engine_for

ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_ARN = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"

CallerFor = Callable[[str], Caller]


def doc(*actions: str, effect: str = "Allow", condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {"Effect": effect, "Action": list(actions), "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def no_policy_allows(action: str, resource: str, who: str = ALICE) -> str:
    return (
        f"User: {who} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


@pytest.fixture
def alice(call: Call, caller_for: CallerFor) -> Caller:
    call("CreateUser", UserName="alice")
    call("CreateGroup", GroupName="devs")
    call("AddUserToGroup", GroupName="devs", UserName="alice")
    return caller_for("alice")


def create_policy(call: Call, name: str, document: str) -> str:
    arn: str = call("CreatePolicy", PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
    return arn


def test_detaching_a_group_policy_denies_at_once(call: Call, alice: Caller) -> None:
    arn = create_policy(call, "Lister", doc("iam:ListPolicies"))
    with pytest.raises(AccessDenied) as before:
        call("ListPolicies", caller=alice)
    assert before.value.message == no_policy_allows("iam:ListPolicies", "*")
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    assert call("ListPolicies", caller=alice, Scope="Local")["IsTruncated"] is False
    call("DetachGroupPolicy", GroupName="devs", PolicyArn=arn)
    with pytest.raises(AccessDenied) as after:
        call("ListPolicies", caller=alice)
    assert after.value.message == no_policy_allows("iam:ListPolicies", "*")


def test_default_version_switches_what_is_allowed(call: Call, alice: Caller) -> None:
    arn = create_policy(call, "Lister", doc("iam:ListPolicies", "iam:GetPolicy"))
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    call("ListPolicies", caller=alice)
    # A new version that is not the default changes nothing.
    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc("iam:GetPolicy"))
    call("ListPolicies", caller=alice)
    # Making it the default drops ListPolicies at once.
    call("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v2")
    with pytest.raises(AccessDenied) as denied:
        call("ListPolicies", caller=alice)
    assert denied.value.message == no_policy_allows("iam:ListPolicies", "*")
    call("GetPolicy", PolicyArn=arn, caller=alice)
    call("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v1")
    call("ListPolicies", caller=alice)
    # CreatePolicyVersion with SetAsDefault drops it too.
    call(
        "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc("iam:GetPolicy"), SetAsDefault=True
    )
    with pytest.raises(AccessDenied):
        call("ListPolicies", caller=alice)


def test_deleted_versions_stay_gone(call: Call, alice: Caller) -> None:
    """Deleting the version that allowed the action leaves it denied; a later version with
    the same text gets a new id and allows again."""
    allow = doc("iam:ListPolicies")
    arn = create_policy(call, "Lister", doc("iam:GetPolicy"))
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow, SetAsDefault=True)
    call("ListPolicies", caller=alice)
    call("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v1")
    call("DeletePolicyVersion", PolicyArn=arn, VersionId="v2")
    with pytest.raises(AccessDenied):
        call("ListPolicies", caller=alice)
    again = call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow, SetAsDefault=True)
    assert again["PolicyVersion"]["VersionId"] == "v3"
    call("ListPolicies", caller=alice)


def test_explicit_inline_deny_beats_an_allow(call: Call, alice: Caller) -> None:
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=ADMIN_ARN)
    call("ListPolicies", caller=alice)
    call(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="NoListing",
        PolicyDocument=doc("iam:List*", effect="Deny"),
    )
    with pytest.raises(AccessDenied) as denied:
        call("ListPolicies", caller=alice)
    assert denied.value.message == (
        f"User: {ALICE} is not authorized to perform: iam:ListPolicies on resource: * "
        "with an explicit deny in an identity-based policy"
    )
    call("GetPolicy", PolicyArn=ADMIN_ARN, caller=alice)  # the Allow still covers the rest
    call("DeleteUserPolicy", UserName="alice", PolicyName="NoListing")
    call("ListPolicies", caller=alice)


def test_inline_group_policy_grants_and_revokes(call: Call, alice: Caller) -> None:
    call("PutGroupPolicy", GroupName="devs", PolicyName="list", PolicyDocument=doc("iam:List*"))
    call("ListPolicies", caller=alice)
    call("DeleteGroupPolicy", GroupName="devs", PolicyName="list")
    with pytest.raises(AccessDenied):
        call("ListPolicies", caller=alice)


def test_a_permissions_boundary_limits(call: Call, alice: Caller) -> None:
    call("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN_ARN)
    call("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=READ_ONLY_ARN)
    call("ListPolicies", caller=alice)
    target = f"arn:aws:iam::{ACCOUNT}:policy/Mine"
    with pytest.raises(AccessDenied) as denied:
        call("CreatePolicy", PolicyName="Mine", PolicyDocument=doc("s3:*"), caller=alice)
    assert denied.value.message == (
        f"User: {ALICE} is not authorized to perform: iam:CreatePolicy on resource: {target} "
        "because no permissions boundary allows the iam:CreatePolicy action"
    )
    call("DeleteUserPermissionsBoundary", UserName="alice")
    call("CreatePolicy", PolicyName="Mine", PolicyDocument=doc("s3:*"), caller=alice)


def test_policy_arn_condition_limits_what_can_be_attached(
    call: Call, alice: Caller, caller_for: CallerFor
) -> None:
    call("CreateUser", UserName="bob")
    delegate = doc(
        "iam:AttachUserPolicy",
        condition={"ArnEquals": {"iam:PolicyARN": READ_ONLY_ARN}},
    )
    call("PutUserPolicy", UserName="alice", PolicyName="delegate", PolicyDocument=delegate)
    call("AttachUserPolicy", UserName="bob", PolicyArn=READ_ONLY_ARN, caller=alice)
    with pytest.raises(AccessDenied) as denied:
        call("AttachUserPolicy", UserName="bob", PolicyArn=ADMIN_ARN, caller=alice)
    bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
    assert denied.value.message == no_policy_allows("iam:AttachUserPolicy", bob)


def explicit_deny(action: str, resource: str, who: str = ALICE) -> str:
    return (
        f"User: {who} is not authorized to perform: {action} on resource: {resource} "
        "with an explicit deny in an identity-based policy"
    )


def with_mfa(caller: Caller, runtime: Runtime) -> Caller:
    """The same user on temporary credentials obtained with an MFA code a minute ago."""
    return replace(
        caller,
        access_key_id="ASIATESTTESTTESTTEST",
        session_token_id="session-1",
        mfa_authenticated_at=runtime.clock() - timedelta(minutes=1),
    )


def test_self_service_policy(call: Call, caller_for: CallerFor, runtime: Runtime) -> None:
    for name in ("alice", "bob"):
        call("CreateUser", UserName=name)
    call("CreateGroup", GroupName="SelfService")
    arn = create_policy(call, "SelfServiceCredentials", self_service_policy_document())
    call("AttachGroupPolicy", GroupName="SelfService", PolicyArn=arn)
    call("AddUserToGroup", GroupName="SelfService", UserName="alice")
    alice_key = caller_for("alice")  # a long-term access key: no MFA
    alice = with_mfa(alice_key, runtime)

    # Without MFA: reading IAM, but no credential management.
    call("GetUser", UserName="bob", caller=alice_key)
    call("ListAccessKeys", UserName="alice", caller=alice_key)
    with pytest.raises(AccessDenied) as no_mfa:
        call("CreateAccessKey", UserName="alice", caller=alice_key)
    assert no_mfa.value.message == explicit_deny("iam:CreateAccessKey", ALICE)

    # With MFA: her own keys.
    key = call("CreateAccessKey", UserName="alice", caller=alice)["AccessKey"]
    assert key["UserName"] == "alice"
    call("CreateAccessKey", caller=alice)  # UserName omitted: her own
    call("GetUser", UserName="bob", caller=alice)  # reading IAM is allowed

    bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
    with pytest.raises(AccessDenied) as other:
        call("CreateAccessKey", UserName="bob", caller=alice)
    assert other.value.message == no_policy_allows("iam:CreateAccessKey", bob)
    with pytest.raises(AccessDenied) as inline:
        call(
            "PutUserPolicy", UserName="alice", PolicyName="p", PolicyDocument=doc("*"), caller=alice
        )
    assert inline.value.message == no_policy_allows("iam:PutUserPolicy", ALICE)
    with pytest.raises(AccessDenied) as attach:
        call("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN_ARN, caller=alice)
    assert attach.value.message == no_policy_allows("iam:AttachUserPolicy", ALICE)
    group = f"arn:aws:iam::{ACCOUNT}:group/SelfService"
    with pytest.raises(AccessDenied) as join:
        call("AddUserToGroup", GroupName="SelfService", UserName="alice", caller=alice)
    assert join.value.message == no_policy_allows("iam:AddUserToGroup", group)
    with pytest.raises(AccessDenied):
        call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc("*"), caller=alice)
    with pytest.raises(AccessDenied):
        call("DetachGroupPolicy", GroupName="SelfService", PolicyArn=arn, caller=alice)
    # The same escalations without MFA meet the MFA deny first.
    with pytest.raises(AccessDenied) as join_no_mfa:
        call("AddUserToGroup", GroupName="SelfService", UserName="alice", caller=alice_key)
    assert join_no_mfa.value.message == explicit_deny("iam:AddUserToGroup", group)
    assert len(call("ListAccessKeys", UserName="bob")["AccessKeyMetadata"]) == 0
    assert len(call("ListAccessKeys", UserName="alice")["AccessKeyMetadata"]) == 2


def test_a_change_through_one_process_is_enforced_by_another(
    call: Call, alice: Caller, runtime: Runtime
) -> None:
    """DESIGN rule 7: a second Runtime on the same database sees a detach on its next request."""
    arn = create_policy(call, "Lister", doc("iam:ListPolicies"))
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    engine = create_engine_for(runtime.engine.url)
    other = Runtime(engine, SecretBox(SecretBox.generate_key()), clock=runtime.clock)

    def call_other(op: str, **params: Any) -> dict[str, Any]:
        info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
        return other.invoke("iam", op, params, alice, info)

    try:
        call_other("ListPolicies")  # warms the other process's cache
        call("DetachGroupPolicy", GroupName="devs", PolicyArn=arn)
        with pytest.raises(AccessDenied):
            call_other("ListPolicies")
    finally:
        other.audit.flush()
        engine.dispose()


def test_credential_changes_keep_cached_policies_policy_changes_do_not(
    call: Call, alice: Caller, runtime: Runtime
) -> None:
    """Per-key invalidation (DESIGN rule 7): deleting a key reloads that key's caller in
    every process but no caller's policies; a detach reloads policies in every process."""
    arn = create_policy(call, "Lister", doc("iam:ListPolicies"))
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    key = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    scope = ("20261127", "us-east-1", "iam")
    engine = create_engine_for(runtime.engine.url)
    other = Runtime(engine, runtime.box, clock=runtime.clock)

    def list_in_other() -> None:
        caller, _, feed_read = other.authenticate_in_transaction(key, scope)
        info = RequestInfo(request_id=new_request_id(), now=runtime.clock(), feed_read=feed_read)
        other.invoke("iam", "ListPolicies", {}, caller, info)

    try:
        list_in_other()  # warms the other process's caches
        policies_before = other._principals[alice.user_id][1]
        spare = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
        call("DeleteAccessKey", UserName="alice", AccessKeyId=spare)
        list_in_other()
        assert other._principals[alice.user_id][1] is policies_before  # kept
        call("DeleteAccessKey", UserName="alice", AccessKeyId=key)
        with pytest.raises(InvalidClientTokenId):
            other.authenticate_in_transaction(key, scope)  # the credential cache did reload
        key = call("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
        call("DetachGroupPolicy", GroupName="devs", PolicyArn=arn)
        with pytest.raises(AccessDenied):
            list_in_other()
        assert other._principals[alice.user_id][1] is not policies_before  # reloaded
    finally:
        other.audit.flush()
        engine.dispose()
