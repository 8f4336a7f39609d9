"""The checked-in SelfServiceCredentials policy, decided by the pure engine, case by case.

Three kinds of caller, as the service's request context builds them:

* ``KEY``: a long-term access key — no ``aws:MultiFactorAuthPresent`` key at all, so the
  ``BoolIfExists`` deny applies;
* ``SESSION``: temporary credentials obtained without MFA — the key is ``"false"``;
* ``MFA``: an MFA-authenticated session — ``"true"`` and ``aws:MultiFactorAuthAge``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import pytest

from selfiam.policy import PolicyKind, PolicySet, Request, RequestContext, evaluate, parse_policy

ACCOUNT = "123456789012"
KEY, SESSION, MFA = "long-term key", "session without MFA", "MFA session"
ALLOWED, IMPLICIT, EXPLICIT = "allowed", "implicitDeny", "explicitDeny"

DOCUMENT = (
    resources.files("selfiam.domain")
    .joinpath("policies", "self_service_credentials.json")
    .read_text()
)
POLICIES = PolicySet([parse_policy(DOCUMENT, PolicyKind.MANAGED, "SelfServiceCredentials")])


def user(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:user{path}{name}"


def mfa(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:mfa/{name}"


ALICE, BOB = user("alice"), user("bob")
GROUP = f"arn:aws:iam::{ACCOUNT}:group/SelfService"
ADMINS = f"arn:aws:iam::{ACCOUNT}:group/Admins"
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/SelfServiceCredentials"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def decide(action: str, resource: str, caller: str, how: str) -> str:
    values: dict[str, str] = {
        "aws:username": caller,
        "aws:userid": "AIDAEXAMPLEEXAMPLE01",
        "aws:PrincipalArn": user(caller),
        "aws:PrincipalAccount": ACCOUNT,
        "aws:PrincipalType": "User",
        "aws:CurrentTime": "2026-11-27T12:00:00Z",
        "aws:SecureTransport": "true",
    }
    if how == SESSION:
        values["aws:MultiFactorAuthPresent"] = "false"
    elif how == MFA:
        values["aws:MultiFactorAuthPresent"] = "true"
        values["aws:MultiFactorAuthAge"] = "300"
    request = Request(
        action=action,
        resource=resource,
        context=RequestContext(values),
        principal_arn=user(caller),
        principal_account=ACCOUNT,
        resource_account=ACCOUNT,
    )
    return evaluate(request, POLICIES).decision


@dataclass(frozen=True)
class Case:
    action: str
    resource: str
    caller: str
    how: str
    expected: str

    def __str__(self) -> str:
        target = self.resource.rsplit(":", 1)[-1]
        return f"{self.caller} {self.how}: {self.action} on {target} -> {self.expected}"


def every_way(action: str, resource: str, caller: str = "alice", **expected: str) -> list[Case]:
    """One case per kind of caller; ``key=``, ``session=``, ``mfa=`` give the decisions."""
    return [
        Case(action, resource, caller, KEY, expected["key"]),
        Case(action, resource, caller, SESSION, expected["session"]),
        Case(action, resource, caller, MFA, expected["mfa"]),
    ]


def always(decision: str) -> dict[str, str]:
    return {"key": decision, "session": decision, "mfa": decision}


NEEDS_MFA = {"key": EXPLICIT, "session": EXPLICIT, "mfa": ALLOWED}
# Not allowed at all: the MFA deny answers first when MFA is missing.
NEVER = {"key": EXPLICIT, "session": EXPLICIT, "mfa": IMPLICIT}

READ_ONLY = [
    ("iam:GetUser", ALICE),
    ("iam:GetUser", BOB),
    ("iam:ListUsers", "*"),
    ("iam:GetAccountPasswordPolicy", "*"),
    ("iam:GetAccountSummary", "*"),
    ("iam:ListMFADevices", ALICE),
    ("iam:ListMFADevices", BOB),
    ("iam:ListVirtualMFADevices", "*"),
    ("iam:ListAccessKeys", BOB),
    ("iam:GetAccessKeyLastUsed", BOB),
    ("iam:ListSSHPublicKeys", BOB),
    ("iam:ListSigningCertificates", ALICE),
    ("iam:GetLoginProfile", BOB),
    ("iam:ListGroupsForUser", ALICE),
    ("iam:GetPolicyVersion", POLICY),
    ("iam:ListAttachedGroupPolicies", GROUP),
    ("iam:GenerateCredentialReport", "*"),
    ("iam:GetCredentialReport", "*"),
    ("iam:SimulateCustomPolicy", "*"),
    ("iam:SimulatePrincipalPolicy", BOB),
    ("iam:GetContextKeysForPrincipalPolicy", ALICE),
]

WITHOUT_MFA_OWN = [
    ("iam:ChangePassword", ALICE),
    ("iam:ChangePassword", user("alice", "/team/")),
    ("iam:CreateVirtualMFADevice", mfa("alice")),
    ("iam:EnableMFADevice", ALICE),
    ("iam:ResyncMFADevice", ALICE),
    ("sts:GetSessionToken", "*"),
]

WITH_MFA_OWN = [
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:UploadSigningCertificate",
    "iam:UpdateSigningCertificate",
    "iam:DeleteSigningCertificate",
    "iam:UploadSSHPublicKey",
    "iam:UpdateSSHPublicKey",
    "iam:DeleteSSHPublicKey",
    "iam:CreateServiceSpecificCredential",
    "iam:UpdateServiceSpecificCredential",
    "iam:ResetServiceSpecificCredential",
    "iam:DeleteServiceSpecificCredential",
    "iam:DeactivateMFADevice",
]

# Someone else's things: never allowed, with or without MFA.
OTHERS = [
    *((action, BOB) for action in WITH_MFA_OWN),
    ("iam:DeleteVirtualMFADevice", mfa("bob")),
    ("iam:CreateLoginProfile", BOB),
    ("iam:UpdateLoginProfile", BOB),
    ("iam:DeleteLoginProfile", BOB),
    # bob at path /alice/: the path names alice, the user is bob.
    ("iam:CreateAccessKey", user("bob", "/alice/")),
    # a look-alike name is another user.
    ("iam:CreateAccessKey", user("alice-admin")),
]

# The same, for actions the MFA deny exempts: refused only because nothing allows them.
OTHERS_EXEMPT = [
    ("iam:ChangePassword", BOB),
    ("iam:EnableMFADevice", BOB),
    ("iam:ResyncMFADevice", BOB),
    ("iam:CreateVirtualMFADevice", mfa("bob")),
    ("iam:CreateVirtualMFADevice", mfa("alice-backup")),
]

ESCALATION = [
    ("iam:PutUserPolicy", ALICE),
    ("iam:AttachUserPolicy", ALICE),
    ("iam:PutUserPermissionsBoundary", ALICE),
    ("iam:DeleteUserPermissionsBoundary", ALICE),
    ("iam:AddUserToGroup", ADMINS),
    ("iam:AddUserToGroup", GROUP),
    ("iam:RemoveUserFromGroup", GROUP),
    ("iam:PutGroupPolicy", GROUP),
    ("iam:AttachGroupPolicy", GROUP),
    ("iam:DetachGroupPolicy", GROUP),
    ("iam:CreatePolicyVersion", POLICY),
    ("iam:SetDefaultPolicyVersion", POLICY),
    ("iam:DeletePolicyVersion", POLICY),
    ("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/mine"),
    ("iam:CreateLoginProfile", ALICE),
    ("iam:UpdateLoginProfile", ALICE),
    ("iam:DeleteLoginProfile", ALICE),
    ("iam:UpdateUser", ALICE),
    ("iam:TagUser", ALICE),
    ("iam:CreateUser", user("mallory")),
    ("iam:DeleteUser", BOB),
    ("iam:UpdateAccountPasswordPolicy", "*"),
    ("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/escape"),
    ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
    ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/admin"),
    ("s3:GetObject", "arn:aws:s3:::bucket/key"),
]

CASES: list[Case] = [
    *(c for action, resource in READ_ONLY for c in every_way(action, resource, **always(ALLOWED))),
    *(
        c
        for action, resource in WITHOUT_MFA_OWN
        for c in every_way(action, resource, **always(ALLOWED))
    ),
    *(c for action in WITH_MFA_OWN for c in every_way(action, ALICE, **NEEDS_MFA)),
    *every_way("iam:CreateAccessKey", user("alice", "/team/"), **NEEDS_MFA),
    *every_way("iam:DeleteVirtualMFADevice", mfa("alice"), **NEEDS_MFA),
    *every_way("iam:CreateAccessKey", BOB, caller="bob", **NEEDS_MFA),
    *every_way("iam:ChangePassword", BOB, caller="bob", **always(ALLOWED)),
    *every_way("iam:CreateAccessKey", ALICE, caller="bob", **NEVER),
    *(c for action, resource in OTHERS for c in every_way(action, resource, **NEVER)),
    *(
        c
        for action, resource in OTHERS_EXEMPT
        for c in every_way(action, resource, **always(IMPLICIT))
    ),
    *(c for action, resource in ESCALATION for c in every_way(action, resource, **NEVER)),
    # Read-only IAM, except another member's SSH public keys (the story's "cannot read
    # bob's SSH key"): an explicit deny that no MFA lifts.
    *every_way("iam:GetSSHPublicKey", ALICE, **always(ALLOWED)),
    *every_way("iam:GetSSHPublicKey", user("alice", "/team/"), **always(ALLOWED)),
    *every_way("iam:GetSSHPublicKey", BOB, **always(EXPLICIT)),
    *every_way("iam:GetSSHPublicKey", user("alice-admin"), **always(EXPLICIT)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_self_service_decision(case: Case) -> None:
    assert decide(case.action, case.resource, case.caller, case.how) == case.expected


def test_the_document_is_plain_json_with_the_documented_statements() -> None:
    document = json.loads(DOCUMENT)
    sids = [s["Sid"] for s in document["Statement"]]
    assert sids[-1] == "DenyAllExceptListedIfNoMFA"
    deny = document["Statement"][-1]
    assert deny["Effect"] == "Deny" and "NotAction" in deny
    assert deny["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
