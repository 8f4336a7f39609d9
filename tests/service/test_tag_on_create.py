"""Creating with ``Tags`` is tagging (issue 15; IAM User Guide, "Permissions required to
tag IAM entities": to create a user with tags you need iam:CreateUser and iam:TagUser):
every Create* that takes Tags asks for its Tag* action too, with aws:RequestTag/KEY and
aws:TagKeys in that authorization's context; refused, the AccessDenied names the Tag*
action and nothing is created."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from tests.service.conftest import ACCOUNT, Call, fails

from selfiam.domain.arns import user_arn
from selfiam.domain.errors import AwsError
from selfiam.service.caller import Caller
from selfiam.service.operations.tags import TAG_ACTION_ON_CREATE
from selfiam.service.registry import find_operation
from support.saml_idp import SamlIdp

IAM = f"arn:aws:iam::{ACCOUNT}"
TAGS = [{"Key": "team", "Value": "blue"}]
DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
        ],
    }
)

#: Operations with Tags that are not creating something IAM tags: AssumeRole* pass session
#: tags (sts:TagSession, checked in test_assume_role), GetWebIdentityToken's tags go into
#: a token, and the Tag* operations are the tag actions themselves.
NOT_CREATES = frozenset(
    {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetWebIdentityToken"}
)


def test_every_create_with_tags_names_its_tag_action() -> None:
    session = botocore.session.get_session()
    creates = set()
    for service in ("iam", "sts"):
        model = session.get_service_model(service)
        for name in model.operation_names:
            shape = model.operation_model(name).input_shape
            if shape is None or "Tags" not in shape.members:
                continue
            if name.startswith("Tag") or name in NOT_CREATES:
                continue
            creates.add(name)
    assert creates == set(TAG_ACTION_ON_CREATE)


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> SamlIdp:
    return SamlIdp(tmp_path_factory.mktemp("idp"))


Case = tuple[str, str, Callable[[SamlIdp], dict[str, Any]], Callable[[Call], Any]]


def _count(call: Call, operation: str, field: str, **params: Any) -> int:
    return len(call(operation, **params)[field])


CASES: list[Case] = [
    (
        "CreateUser",
        f"{IAM}:user/made",
        lambda idp: {"UserName": "made"},
        lambda call: _count(call, "ListUsers", "Users", PathPrefix="/") - 1,
    ),
    (
        "CreateRole",
        f"{IAM}:role/made",
        lambda idp: {"RoleName": "made", "AssumeRolePolicyDocument": TRUST},
        lambda call: _count(call, "ListRoles", "Roles"),
    ),
    (
        "CreatePolicy",
        f"{IAM}:policy/made",
        lambda idp: {"PolicyName": "made", "PolicyDocument": DOC},
        lambda call: _count(call, "ListPolicies", "Policies", Scope="Local"),
    ),
    (
        "CreateInstanceProfile",
        f"{IAM}:instance-profile/made",
        lambda idp: {"InstanceProfileName": "made"},
        lambda call: _count(call, "ListInstanceProfiles", "InstanceProfiles"),
    ),
    (
        "CreateOpenIDConnectProvider",
        f"{IAM}:oidc-provider/issuer.example.com",
        lambda idp: {"Url": "https://issuer.example.com", "ThumbprintList": ["a" * 40]},
        lambda call: _count(call, "ListOpenIDConnectProviders", "OpenIDConnectProviderList"),
    ),
    (
        "CreateSAMLProvider",
        f"{IAM}:saml-provider/made",
        lambda idp: {"Name": "made", "SAMLMetadataDocument": idp.metadata},
        lambda call: _count(call, "ListSAMLProviders", "SAMLProviderList"),
    ),
    (
        "CreateVirtualMFADevice",
        f"{IAM}:mfa/made",
        lambda idp: {"VirtualMFADeviceName": "made"},
        lambda call: _count(call, "ListVirtualMFADevices", "VirtualMFADevices"),
    ),
]


def _admin(call: Call, statements: list[dict[str, Any]]) -> Caller:
    call("CreateUser", UserName="admin")
    call(
        "PutUserPolicy",
        UserName="admin",
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    user = call("GetUser", UserName="admin")["User"]
    return Caller(
        account_id=ACCOUNT,
        arn=user_arn(ACCOUNT, "admin"),
        user_id=user["UserId"],
        user_name="admin",
        access_key_id="AKIATESTTESTTESTTEST",
    )


def _allow(action: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return statement


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_create_with_tags_needs_the_tag_action(call: Call, idp: SamlIdp, case: Case) -> None:
    operation, arn, params, count = case
    tag_action = TAG_ACTION_ON_CREATE[operation]
    admin = _admin(call, [_allow(f"iam:{operation}")])
    before = count(call)
    message = (
        f"User: {IAM}:user/admin is not authorized to perform: {tag_action} on resource: "
        f"{arn} because no identity-based policy allows the {tag_action} action"
    )
    fails("AccessDenied", message, call, operation, caller=admin, Tags=TAGS, **params(idp))
    assert count(call) == before  # all or nothing


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_tag_action_sees_the_request_tags(call: Call, idp: SamlIdp, case: Case) -> None:
    operation, _, params, count = case
    tag_action = TAG_ACTION_ON_CREATE[operation]
    only_blue = {
        "StringEquals": {"aws:RequestTag/team": "blue"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
    }
    admin = _admin(call, [_allow(f"iam:{operation}"), _allow(tag_action, only_blue)])
    before = count(call)
    red = [{"Key": "team", "Value": "red"}]
    fails("AccessDenied", None, call, operation, caller=admin, Tags=red, **params(idp))
    extra = [*TAGS, {"Key": "cost", "Value": "1"}]
    fails("AccessDenied", None, call, operation, caller=admin, Tags=extra, **params(idp))
    assert count(call) == before
    call(operation, caller=admin, Tags=TAGS, **params(idp))
    assert count(call) == before + 1


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_create_without_tags_needs_no_tag_action(call: Call, idp: SamlIdp, case: Case) -> None:
    operation, _, params, count = case
    admin = _admin(call, [_allow(f"iam:{operation}")])
    before = count(call)
    call(operation, caller=admin, **params(idp))
    assert count(call) == before + 1


def test_server_certificates_hook() -> None:
    """UploadServerCertificate (another branch) finds its tag action in the table."""
    assert TAG_ACTION_ON_CREATE["UploadServerCertificate"] == "iam:TagServerCertificate"
    op = find_operation("iam", "UploadServerCertificate")
    assert op is None or op.name == "UploadServerCertificate"


def test_refused_tag_action_leaves_no_user(call: Call) -> None:
    admin = _admin(call, [_allow("iam:CreateUser")])
    with pytest.raises(AwsError):
        call("CreateUser", caller=admin, UserName="x", Tags=TAGS)
    fails("NoSuchEntity", None, call, "GetUser", UserName="x")
