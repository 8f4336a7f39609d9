"""Managed policies, their versions, attachments and tags, through ``Runtime.invoke``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from tests.service.conftest import ACCOUNT, Call, fails

from selfiam.domain.errors import (
    AccessDenied,
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
)

ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


def doc(*actions: str, effect: str = "Allow", resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": list(actions), "Resource": resource}],
        }
    )


def create(call: Call, name: str = "Readers", **params: Any) -> dict[str, Any]:
    params.setdefault("PolicyDocument", doc("iam:Get*"))
    return call("CreatePolicy", PolicyName=name, **params)["Policy"]


# -- CreatePolicy / GetPolicy ---------------------------------------------------------


def test_create_policy_returns_the_policy(call: Call) -> None:
    policy = create(call, "Readers", Path="/team/", Description="read only")
    assert policy["Arn"] == f"arn:aws:iam::{ACCOUNT}:policy/team/Readers"
    assert policy["PolicyId"].startswith("ANPA") and len(policy["PolicyId"]) == 21
    assert policy["DefaultVersionId"] == "v1"
    assert policy["AttachmentCount"] == 0
    assert policy["PermissionsBoundaryUsageCount"] == 0
    assert policy["IsAttachable"] is True
    assert policy["Path"] == "/team/"
    assert policy["CreateDate"] == policy["UpdateDate"]
    # AWS's recorded answers: CreatePolicy does not echo Description; GetPolicy shows it
    # and an empty Tags list.
    assert "Description" not in policy
    got = call("GetPolicy", PolicyArn=policy["Arn"])["Policy"]
    assert got["Description"] == "read only"
    assert got["Tags"] == []


def test_create_policy_duplicate_name_is_case_insensitive(call: Call) -> None:
    create(call, "Readers")
    with pytest.raises(EntityAlreadyExists) as err:
        create(call, "READERS", Path="/other/")
    assert err.value.message == (
        "A policy called READERS already exists. Duplicate names are not allowed."
    )


def test_create_policy_rejects_a_malformed_document(call: Call) -> None:
    with pytest.raises(MalformedPolicyDocument):
        create(call, PolicyDocument='{"Version": "2012-10-17"}')
    with pytest.raises(MalformedPolicyDocument):
        create(call, PolicyDocument="not json")


def test_create_policy_size_quota_ignores_white_space(call: Call) -> None:
    body = doc(*[f"iam:GetUser{i:04d}" for i in range(340)])
    assert len(body.replace(" ", "")) > 6144
    with pytest.raises(LimitExceeded) as err:
        create(call, PolicyDocument=body)
    assert err.value.message == "Cannot exceed quota for PolicySize: 6144"
    padded = doc("iam:GetUser") + " " * 7000
    create(call, "Padded", PolicyDocument=padded)


def test_create_policy_with_tags(call: Call) -> None:
    policy = create(call, Tags=[{"Key": "team", "Value": "a"}])
    assert policy["Tags"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(InvalidInput) as err:
        create(call, "Other", Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}])
    assert err.value.message == "Duplicate tag keys found."  # AWS's recorded policy answer
    # Policy tag keys are case-sensitive in AWS (recorded): "k" and "K" are two tags.
    cased = create(call, "Cased", Tags=[{"Key": "k", "Value": "1"}, {"Key": "K", "Value": "2"}])
    assert sorted(t["Key"] for t in cased["Tags"]) == ["K", "k"]


def test_get_policy_errors(call: Call) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/Nope"
    with pytest.raises(NoSuchEntity) as err:
        call("GetPolicy", PolicyArn=arn)
    assert err.value.message == f"Policy {arn} was not found."
    with pytest.raises(InvalidInput) as invalid:
        call("GetPolicy", PolicyArn=f"arn:aws:iam::{ACCOUNT}:user/alice")
    assert invalid.value.message == f"ARN arn:aws:iam::{ACCOUNT}:user/alice is not valid."


def test_aws_managed_policy_is_readable_by_arn(call: Call) -> None:
    policy = call("GetPolicy", PolicyArn=ADMIN_ARN)["Policy"]
    assert policy["PolicyName"] == "AdministratorAccess"
    version = call("GetPolicyVersion", PolicyArn=ADMIN_ARN, VersionId=policy["DefaultVersionId"])
    document = json.loads(unquote(version["PolicyVersion"]["Document"]))
    assert document["Statement"][0]["Action"] == "*"


def test_aws_managed_policies_cannot_be_changed(call: Call) -> None:
    with pytest.raises(AccessDenied):
        call("DeletePolicy", PolicyArn=ADMIN_ARN)
    with pytest.raises(AccessDenied):
        call("CreatePolicyVersion", PolicyArn=ADMIN_ARN, PolicyDocument=doc("s3:*"))
    with pytest.raises(AccessDenied):
        call("TagPolicy", PolicyArn=ADMIN_ARN, Tags=[{"Key": "a", "Value": "b"}])


# -- ListPolicies ---------------------------------------------------------------------


def all_pages(call: Call, **params: Any) -> list[dict[str, Any]]:
    """Every policy ListPolicies lists, page after page (AWS's are more than a page)."""
    policies: list[dict[str, Any]] = []
    marker: dict[str, Any] = {}
    while True:
        page = call("ListPolicies", MaxItems=1000, **params, **marker)
        policies += page["Policies"]
        if not page["IsTruncated"]:
            return policies
        marker = {"Marker": page["Marker"]}


def test_list_policies_scopes_and_filters(call: Call) -> None:
    create(call, "Alpha", Path="/x/")
    create(call, "Beta")
    local = call("ListPolicies", Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in local] == ["Alpha", "Beta"]
    assert all("Description" not in p and "Tags" not in p for p in local)
    aws = all_pages(call, Scope="AWS")
    assert {p["PolicyName"] for p in aws} >= {"AdministratorAccess", "IAMReadOnlyAccess"}
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws)
    everything = all_pages(call)
    assert len(everything) == len(local) + len(aws)
    assert [p["PolicyName"] for p in call("ListPolicies", PathPrefix="/x/")["Policies"]] == [
        "Alpha"
    ]


def test_list_policies_only_attached(call: Call) -> None:
    call("CreateUser", UserName="alice")
    beta = create(call, "Beta")
    create(call, "Gamma")
    call("AttachUserPolicy", UserName="alice", PolicyArn=beta["Arn"])
    call("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN_ARN)
    attached = call("ListPolicies", OnlyAttached=True)["Policies"]
    assert {p["PolicyName"] for p in attached} == {"Beta", "AdministratorAccess"}
    assert all(p["AttachmentCount"] == 1 for p in attached)
    local = call("ListPolicies", OnlyAttached=True, Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in local] == ["Beta"]
    boundary = call("ListPolicies", OnlyAttached=True, PolicyUsageFilter="PermissionsBoundary")[
        "Policies"
    ]
    assert boundary == []


def test_list_policies_paginates(call: Call) -> None:
    for i in range(5):
        create(call, f"P{i}")
    seen: list[str] = []
    marker = None
    while True:
        params: dict[str, Any] = {"Scope": "Local", "MaxItems": 2}
        if marker:
            params["Marker"] = marker
        page = call("ListPolicies", **params)
        seen += [p["PolicyName"] for p in page["Policies"]]
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert seen == [f"P{i}" for i in range(5)]


# -- versions --------------------------------------------------------------------------


def test_versions_count_up_and_are_never_reused(call: Call) -> None:
    arn = create(call)["Arn"]
    ids = [
        call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc(f"iam:Get{i}"))[
            "PolicyVersion"
        ]["VersionId"]
        for i in range(4)
    ]
    assert ids == ["v2", "v3", "v4", "v5"]
    with pytest.raises(LimitExceeded) as err:
        call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc("iam:GetUser"))
    assert err.value.message == (
        "A managed policy can have up to 5 versions. Before you create a new version, "
        "you must delete an existing version."
    )
    call("DeletePolicyVersion", PolicyArn=arn, VersionId="v5")
    again = call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc("iam:GetUser"))
    assert again["PolicyVersion"]["VersionId"] == "v6"
    assert again["PolicyVersion"]["IsDefaultVersion"] is False
    assert "Document" not in again["PolicyVersion"]


def test_set_as_default_and_list_versions(call: Call) -> None:
    arn = create(call)["Arn"]
    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc("iam:List*"), SetAsDefault=True)
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    versions = call("ListPolicyVersions", PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [
        ("v2", True),
        ("v1", False),
    ]
    assert all("Document" not in v for v in versions)
    first = call("ListPolicyVersions", PolicyArn=arn, MaxItems=1)
    assert first["IsTruncated"] and [v["VersionId"] for v in first["Versions"]] == ["v2"]
    rest = call("ListPolicyVersions", PolicyArn=arn, Marker=first["Marker"])
    assert [v["VersionId"] for v in rest["Versions"]] == ["v1"] and not rest["IsTruncated"]
    call("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v1")
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"


def test_get_policy_version_returns_the_document_url_encoded(call: Call) -> None:
    body = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a+b c*"}
            ],
        }
    )
    arn = create(call, PolicyDocument=body)["Arn"]
    version = call("GetPolicyVersion", PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["IsDefaultVersion"] is True
    encoded = version["Document"]
    assert "%7B" in encoded and "%2F" in encoded and "%2B" in encoded and " " not in encoded
    assert unquote(encoded) == body


def test_policy_version_errors(call: Call) -> None:
    arn = create(call)["Arn"]
    with pytest.raises(NoSuchEntity) as err:
        call("GetPolicyVersion", PolicyArn=arn, VersionId="v9")
    assert err.value.message == f"Policy {arn} version v9 does not exist or is not attachable."
    with pytest.raises(NoSuchEntity):
        call("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v9")
    with pytest.raises(NoSuchEntity):
        call("DeletePolicyVersion", PolicyArn=arn, VersionId="v9")
    with pytest.raises(DeleteConflict) as conflict:
        call("DeletePolicyVersion", PolicyArn=arn, VersionId="v1")
    assert conflict.value.message == "Cannot delete the default version of a policy."
    with pytest.raises(MalformedPolicyDocument):
        call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument='{"Statement": []}')


def test_version_of_a_policy_that_does_not_exist(call: Call) -> None:
    """AWS's recorded answers: the missing policy is reported as a missing version."""
    arn = f"arn:aws:iam::{ACCOUNT}:policy/TestNonExistingPolicy"
    expected = f"Policy {arn} version v1 does not exist or is not attachable."
    for operation in ("GetPolicyVersion", "SetDefaultPolicyVersion"):
        fails("NoSuchEntity", expected, call, operation, PolicyArn=arn, VersionId="v1")


# -- DeletePolicy ----------------------------------------------------------------------


def test_delete_policy_conflicts(call: Call) -> None:
    call("CreateGroup", GroupName="devs")
    arn = create(call)["Arn"]
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    with pytest.raises(DeleteConflict) as attached:
        call("DeletePolicy", PolicyArn=arn)
    assert attached.value.message == "Cannot delete a policy attached to entities."
    call("DetachGroupPolicy", GroupName="devs", PolicyArn=arn)
    call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=doc("iam:List*"))
    with pytest.raises(DeleteConflict) as versions:
        call("DeletePolicy", PolicyArn=arn)
    assert versions.value.message == (
        "This policy has more than one version. Before you delete a policy, you must delete "
        "the policy's versions. The default version is deleted with the policy."
    )
    call("DeletePolicyVersion", PolicyArn=arn, VersionId="v2")
    call("DeletePolicy", PolicyArn=arn)
    with pytest.raises(NoSuchEntity):
        call("GetPolicy", PolicyArn=arn)
    create(call)  # the name is free again


def test_delete_policy_used_as_a_boundary_conflicts(call: Call) -> None:
    call("CreateUser", UserName="alice")
    arn = create(call)["Arn"]
    call("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=arn)
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    with pytest.raises(DeleteConflict):
        call("DeletePolicy", PolicyArn=arn)


# -- attachments -----------------------------------------------------------------------


def test_attach_detach_and_list_user_policies(call: Call) -> None:
    call("CreateUser", UserName="alice")
    policy = create(call, "Readers", Path="/team/")
    call("AttachUserPolicy", UserName="alice", PolicyArn=policy["Arn"])
    call("AttachUserPolicy", UserName="ALICE", PolicyArn=policy["Arn"])  # idempotent
    call("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN_ARN)
    listed = call("ListAttachedUserPolicies", UserName="alice")
    assert listed["AttachedPolicies"] == [
        {"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN_ARN},
        {"PolicyName": "Readers", "PolicyArn": policy["Arn"]},
    ]
    assert listed["IsTruncated"] is False
    team = call("ListAttachedUserPolicies", UserName="alice", PathPrefix="/team/")
    assert [p["PolicyName"] for p in team["AttachedPolicies"]] == ["Readers"]
    assert call("GetPolicy", PolicyArn=policy["Arn"])["Policy"]["AttachmentCount"] == 1
    call("DetachUserPolicy", UserName="alice", PolicyArn=policy["Arn"])
    with pytest.raises(NoSuchEntity) as err:
        call("DetachUserPolicy", UserName="alice", PolicyArn=policy["Arn"])
    assert err.value.message == f"Policy {policy['Arn']} was not found."


def test_attach_errors(call: Call) -> None:
    call("CreateUser", UserName="alice")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/Missing"
    with pytest.raises(NoSuchEntity) as err:
        call("AttachUserPolicy", UserName="alice", PolicyArn=missing)
    assert err.value.message == f"Policy {missing} does not exist or is not attachable."
    with pytest.raises(NoSuchEntity) as user:
        call("AttachUserPolicy", UserName="bob", PolicyArn=ADMIN_ARN)
    assert user.value.message == "The user with name bob cannot be found."
    with pytest.raises(NoSuchEntity) as group:
        call("AttachGroupPolicy", GroupName="nobody", PolicyArn=ADMIN_ARN)
    assert group.value.message == "The group with name nobody cannot be found."
    # AWS's recorded answer to a PolicyArn that is not a policy ARN: ValidationError.
    for bad in ("arn:aws:s3:::bucket", "not-an-arn"):
        fails(
            "ValidationError",
            f"ARN {bad} is not valid.",
            call,
            "AttachUserPolicy",
            UserName="alice",
            PolicyArn=bad,
        )
        fails(
            "ValidationError",
            f"ARN {bad} is not valid.",
            call,
            "DetachUserPolicy",
            UserName="alice",
            PolicyArn=bad,
        )


@pytest.mark.parametrize(
    ("create_op", "attach", "param", "quota"),
    [
        ("CreateUser", "AttachUserPolicy", "UserName", "PoliciesPerUser"),
        ("CreateGroup", "AttachGroupPolicy", "GroupName", "PoliciesPerGroup"),
    ],
)
def test_at_most_ten_managed_policies(
    call: Call, create_op: str, attach: str, param: str, quota: str
) -> None:
    call(create_op, **{param: "owner"})
    arns = [create(call, f"P{i}")["Arn"] for i in range(11)]
    for arn in arns[:10]:
        call(attach, **{param: "owner", "PolicyArn": arn})
    call(attach, **{param: "owner", "PolicyArn": arns[0]})  # already attached: fine
    with pytest.raises(LimitExceeded) as err:
        call(attach, **{param: "owner", "PolicyArn": arns[10]})
    assert err.value.message == f"Cannot exceed quota for {quota}: 10"


def test_group_attachments_and_entities_for_policy(call: Call) -> None:
    call("CreateUser", UserName="alice")
    call("CreateUser", UserName="bob", Path="/eng/")
    call("CreateGroup", GroupName="devs")
    arn = create(call)["Arn"]
    call("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    call("AttachUserPolicy", UserName="bob", PolicyArn=arn)
    call("AttachUserPolicy", UserName="alice", PolicyArn=arn)
    assert call("ListAttachedGroupPolicies", GroupName="devs")["AttachedPolicies"] == [
        {"PolicyName": "Readers", "PolicyArn": arn}
    ]
    entities = call("ListEntitiesForPolicy", PolicyArn=arn)
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["devs"]
    assert entities["PolicyGroups"][0]["GroupId"].startswith("AGPA")
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["alice", "bob"]
    assert entities["PolicyRoles"] == []
    users = call("ListEntitiesForPolicy", PolicyArn=arn, EntityFilter="User", PathPrefix="/eng/")
    assert [u["UserName"] for u in users["PolicyUsers"]] == ["bob"]
    assert users["PolicyGroups"] == []
    page = call("ListEntitiesForPolicy", PolicyArn=arn, MaxItems=2)
    assert page["IsTruncated"] and len(page["PolicyGroups"] + page["PolicyUsers"]) == 2
    rest = call("ListEntitiesForPolicy", PolicyArn=arn, Marker=page["Marker"])
    assert [u["UserName"] for u in rest["PolicyUsers"]] == ["bob"]
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 3


def test_entities_for_policy_boundary_filter(call: Call) -> None:
    call("CreateUser", UserName="alice")
    arn = create(call)["Arn"]
    call("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=arn)
    boundary = call("ListEntitiesForPolicy", PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [u["UserName"] for u in boundary["PolicyUsers"]] == ["alice"]
    permissions = call(
        "ListEntitiesForPolicy", PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy"
    )
    assert permissions["PolicyUsers"] == []


# -- tags --------------------------------------------------------------------------------


def test_policy_tags(call: Call) -> None:
    arn = create(call, Tags=[{"Key": "Team", "Value": "a"}])["Arn"]
    call(
        "TagPolicy", PolicyArn=arn, Tags=[{"Key": "team", "Value": "b"}, {"Key": "x", "Value": ""}]
    )
    # Case-sensitive keys on a policy (AWS's recorded answer): "Team" and "team" are two.
    tags = call("ListPolicyTags", PolicyArn=arn)
    assert tags["Tags"] == [
        {"Key": "Team", "Value": "a"},
        {"Key": "team", "Value": "b"},
        {"Key": "x", "Value": ""},
    ]
    assert tags["IsTruncated"] is False
    call("UntagPolicy", PolicyArn=arn, TagKeys=["TEAM", "team", "absent"])
    left = [{"Key": "Team", "Value": "a"}, {"Key": "x", "Value": ""}]
    assert call("ListPolicyTags", PolicyArn=arn)["Tags"] == left
    assert call("GetPolicy", PolicyArn=arn)["Policy"]["Tags"] == left


def test_policy_tag_quota(call: Call) -> None:
    arn = create(call)["Arn"]
    call("TagPolicy", PolicyArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    call("TagPolicy", PolicyArn=arn, Tags=[{"Key": "k0", "Value": "replaced"}])
    with pytest.raises(LimitExceeded) as err:
        call("TagPolicy", PolicyArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    assert err.value.message == "Cannot exceed quota for TagsPerPolicy: 50"
    page = call("ListPolicyTags", PolicyArn=arn, MaxItems=20)
    assert page["IsTruncated"] and len(page["Tags"]) == 20


def test_tag_unknown_policy(call: Call) -> None:
    with pytest.raises(NoSuchEntity):
        call(
            "TagPolicy",
            PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/Nope",
            Tags=[{"Key": "a", "Value": "b"}],
        )
