"""evaluate(): AWS's policy evaluation logic, case by case from AWS's documentation.

Each case names its source: "Policy evaluation logic" (and its "within a single account",
"cross-account", "deny/allow" pages), "Permissions boundaries for IAM entities", "Session
policies", and the IAM example policies quoted below.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from selfiam.policy import (
    Evaluation,
    Policy,
    PolicyKind,
    PolicySet,
    Request,
    RequestContext,
    context_keys,
    evaluate,
    parse_policy,
)

ACCOUNT = "123456789012"
OTHER = "210987654321"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"

# "AWS: Allows MFA-authenticated IAM users to manage their own credentials on the Security
# credentials page" (IAM example policies).
SELF_MANAGE_WITH_MFA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowViewAccountInfo",
            "Effect": "Allow",
            "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
            "Resource": "*",
        },
        {
            "Sid": "AllowManageOwnPasswords",
            "Effect": "Allow",
            "Action": ["iam:ChangePassword", "iam:GetUser"],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "AllowManageOwnAccessKeys",
            "Effect": "Allow",
            "Action": [
                "iam:CreateAccessKey",
                "iam:DeleteAccessKey",
                "iam:ListAccessKeys",
                "iam:UpdateAccessKey",
                "iam:GetAccessKeyLastUsed",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "AllowManageOwnSigningCertificates",
            "Effect": "Allow",
            "Action": [
                "iam:DeleteSigningCertificate",
                "iam:ListSigningCertificates",
                "iam:UpdateSigningCertificate",
                "iam:UploadSigningCertificate",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "AllowManageOwnSSHPublicKeys",
            "Effect": "Allow",
            "Action": [
                "iam:DeleteSSHPublicKey",
                "iam:GetSSHPublicKey",
                "iam:ListSSHPublicKeys",
                "iam:UpdateSSHPublicKey",
                "iam:UploadSSHPublicKey",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "AllowManageOwnVirtualMFADevice",
            "Effect": "Allow",
            "Action": ["iam:CreateVirtualMFADevice"],
            "Resource": "arn:aws:iam::*:mfa/*",
        },
        {
            "Sid": "AllowManageOwnUserMFA",
            "Effect": "Allow",
            "Action": [
                "iam:DeactivateMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetUser",
                "iam:GetMFADevice",
                "iam:ListMFADevices",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken",
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    ],
}

# AWS managed policy IAMReadOnlyAccess.
IAM_READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:GenerateCredentialReport",
                "iam:GenerateServiceLastAccessedDetails",
                "iam:Get*",
                "iam:List*",
                "iam:SimulateCustomPolicy",
                "iam:SimulatePrincipalPolicy",
            ],
            "Resource": "*",
        }
    ],
}

# "AWS: Denies access to AWS based on the source IP".
DENY_OUTSIDE_IP = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
            "Bool": {"aws:ViaAWSService": "false"},
        },
    },
}

# "AWS: Allows access within specific dates".
WITHIN_DATES = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "iam:ListUsers",
            "Resource": "*",
            "Condition": {
                "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
                "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"},
            },
        }
    ],
}

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"},
}
ALLOW_IAM_READ = {
    "Version": "2012-10-17",
    "Statement": {
        "Sid": "Read",
        "Effect": "Allow",
        "Action": ["iam:Get*", "iam:List*"],
        "Resource": "*",
    },
}
DENY_DELETE_USER = {
    "Version": "2012-10-17",
    "Statement": {"Sid": "NoDelete", "Effect": "Deny", "Action": "iam:DeleteUser", "Resource": "*"},
}
# "Policy evaluation logic" NotResource example shape: everything except one bucket.
ALLOW_S3_EXCEPT_BUCKET = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Action": "s3:*",
        "NotResource": ["arn:aws:s3:::secret", "arn:aws:s3:::secret/*"],
    },
}
# "NotAction with Allow": everything except IAM.
ALLOW_ALL_BUT_IAM = {
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
}


def policy(body: dict[str, Any], kind: PolicyKind = PolicyKind.MANAGED, pid: str = "") -> Policy:
    return parse_policy(json.dumps(body, indent=2), kind, pid or f"p-{kind.value}")


def bucket_policy(principal: Any, effect: str = "Allow", action: str = "s3:GetObject") -> Policy:
    body = {
        "Version": "2012-10-17",
        "Statement": {
            "Sid": "Bucket",
            "Effect": effect,
            "Principal": principal,
            "Action": action,
            "Resource": "arn:aws:s3:::logs/*",
        },
    }
    return policy(body, PolicyKind.RESOURCE, "bucket-policy")


SELF_SERVICE = PolicySet(
    [policy(SELF_MANAGE_WITH_MFA, pid="self"), policy(IAM_READ_ONLY, pid="ro")]
)


def req(
    action: str,
    resource: str = ALICE,
    principal: str | None = ALICE,
    resource_account: str | None = None,
    **ctx: Any,
) -> Request:
    values: dict[str, Any] = {"aws:username": "alice", "aws:MultiFactorAuthPresent": True}
    values.update({k.replace("__", ":"): v for k, v in ctx.items()})
    values = {k: v for k, v in values.items() if v is not None}
    return Request(
        action,
        resource,
        RequestContext(values),
        principal_arn=principal,
        resource_account=resource_account,
    )


SELF_SERVICE_CASES = [
    # (id, request, decision, matched sids)
    (
        "own access key with MFA",
        req("iam:CreateAccessKey"),
        "allowed",
        ["AllowManageOwnAccessKeys"],
    ),
    (
        "action names are case-insensitive",
        req("IAM:createaccesskey"),
        "allowed",
        ["AllowManageOwnAccessKeys"],
    ),
    ("wrong user: bob's keys", req("iam:CreateAccessKey", BOB), "implicitDeny", []),
    (
        "no MFA: deny everything not listed",
        req("iam:CreateAccessKey", aws__MultiFactorAuthPresent=False),
        "explicitDeny",
        ["DenyAllExceptListedIfNoMFA"],
    ),
    (
        "MFA key absent (long-term keys): BoolIfExists denies",
        req("iam:DeleteAccessKey", aws__MultiFactorAuthPresent=None),
        "explicitDeny",
        ["DenyAllExceptListedIfNoMFA"],
    ),
    (
        "no MFA, but enrolling an MFA device is listed in NotAction",
        req("iam:EnableMFADevice", aws__MultiFactorAuthPresent=False),
        "allowed",
        ["AllowManageOwnUserMFA"],
    ),
    ("read-only: iam:Get* on anyone", req("iam:GetUser", BOB), "allowed", [None]),
    (
        "both policies allow GetUser on self",
        req("iam:GetUser"),
        "allowed",
        ["AllowManageOwnPasswords", None],
    ),
    ("not granted at all", req("iam:DeleteUser", BOB), "implicitDeny", []),
    ("other service", req("s3:GetObject", "arn:aws:s3:::b/k"), "implicitDeny", []),
    (
        "virtual MFA device ARN",
        req("iam:CreateVirtualMFADevice", f"arn:aws:iam::{ACCOUNT}:mfa/alice"),
        "allowed",
        ["AllowManageOwnVirtualMFADevice"],
    ),
    (
        "no user name in context: ${aws:username} has no value",
        req("iam:UpdateAccessKey", aws__username=None),
        "implicitDeny",
        [],
    ),
]


@pytest.mark.parametrize(
    ("request_", "decision", "sids"),
    [pytest.param(r, d, s, id=i) for i, r, d, s in SELF_SERVICE_CASES],
)
def test_self_service_with_mfa(request_: Request, decision: str, sids: list[str | None]) -> None:
    """ "AWS: Allows MFA-authenticated IAM users to manage their own credentials" + IAMReadOnlyAccess."""
    result = evaluate(request_, SELF_SERVICE)
    assert result.decision == decision
    assert [m.sid for m in result.matched_statements] == sids


def test_missing_context_keys_reported() -> None:
    """SimulatePolicy MissingContextValues: keys a matched statement needed."""
    result = evaluate(req("iam:UpdateAccessKey", aws__username=None), SELF_SERVICE)
    assert result.missing_context_keys == ("aws:username",)
    ip = evaluate(req("iam:ListUsers"), [policy(DENY_OUTSIDE_IP), policy(ALLOW_ALL)])
    assert "aws:SourceIp" in ip.missing_context_keys


def test_matched_statement_positions() -> None:
    result = evaluate(
        req("iam:DeleteUser", BOB), [policy(ALLOW_ALL), policy(DENY_DELETE_USER, pid="d")]
    )
    (m,) = result.matched_statements
    assert (m.policy_id, m.policy_kind, m.statement_index, m.effect) == (
        "d",
        PolicyKind.MANAGED,
        0,
        "Deny",
    )
    assert m.start == (3, 16) and m.end[0] > m.start[0]


GENERAL_CASES: list[tuple[str, Request, list[dict[str, Any]], str]] = [
    # "AWS: Denies access to AWS based on the source IP"
    (
        "source IP inside range",
        req("iam:ListUsers", aws__SourceIp="192.0.2.17", aws__ViaAWSService=False),
        [DENY_OUTSIDE_IP, ALLOW_ALL],
        "allowed",
    ),
    (
        "source IP outside range",
        req("iam:ListUsers", aws__SourceIp="198.51.100.7", aws__ViaAWSService=False),
        [DENY_OUTSIDE_IP, ALLOW_ALL],
        "explicitDeny",
    ),
    (
        "outside range but via an AWS service",
        req("iam:ListUsers", aws__SourceIp="198.51.100.7", aws__ViaAWSService=True),
        [DENY_OUTSIDE_IP, ALLOW_ALL],
        "allowed",
    ),
    # "AWS: Allows access within specific dates"
    (
        "within dates",
        req("iam:ListUsers", aws__CurrentTime="2020-05-01T12:00:00Z"),
        [WITHIN_DATES],
        "allowed",
    ),
    (
        "after the end date",
        req("iam:ListUsers", aws__CurrentTime="2021-01-01T00:00:00Z"),
        [WITHIN_DATES],
        "implicitDeny",
    ),
    (
        "before the start date",
        req("iam:ListUsers", aws__CurrentTime="2020-03-31T23:59:59Z"),
        [WITHIN_DATES],
        "implicitDeny",
    ),
    # "Policy evaluation logic": explicit deny overrides allow
    (
        "explicit deny over allow",
        req("iam:DeleteUser", BOB),
        [ALLOW_ALL, DENY_DELETE_USER],
        "explicitDeny",
    ),
    (
        "deny for another action does not apply",
        req("iam:CreateUser", BOB),
        [ALLOW_ALL, DENY_DELETE_USER],
        "allowed",
    ),
    ("default is implicit deny", req("iam:CreateUser", BOB), [], "implicitDeny"),
    # "IAM JSON policy elements: NotAction" / "NotResource"
    (
        "NotAction allows other services",
        req("s3:GetObject", "arn:aws:s3:::b/k"),
        [ALLOW_ALL_BUT_IAM],
        "allowed",
    ),
    ("NotAction excludes IAM", req("iam:ListUsers"), [ALLOW_ALL_BUT_IAM], "implicitDeny"),
    (
        "NotResource allows other buckets",
        req("s3:GetObject", "arn:aws:s3:::public/k"),
        [ALLOW_S3_EXCEPT_BUCKET],
        "allowed",
    ),
    (
        "NotResource excludes the secret bucket",
        req("s3:GetObject", "arn:aws:s3:::secret/k"),
        [ALLOW_S3_EXCEPT_BUCKET],
        "implicitDeny",
    ),
]


@pytest.mark.parametrize(
    ("request_", "bodies", "decision"),
    [pytest.param(r, b, d, id=i) for i, r, b, d in GENERAL_CASES],
)
def test_identity_policies(request_: Request, bodies: list[dict[str, Any]], decision: str) -> None:
    assert evaluate(request_, [policy(b) for b in bodies]).decision == decision


def test_permissions_boundary() -> None:
    """ "Permissions boundaries for IAM entities": effective = identity AND boundary."""
    identity = PolicySet([policy(ALLOW_ALL)])
    boundary = [policy(ALLOW_IAM_READ, PolicyKind.BOUNDARY, "boundary")]
    inside = evaluate(req("iam:ListUsers"), identity, boundary=boundary)
    assert inside.decision == "allowed"
    assert {m.policy_id for m in inside.matched_statements} == {"p-managed", "boundary"}
    assert evaluate(req("iam:CreateUser"), identity, boundary=boundary).decision == "implicitDeny"
    # The boundary alone grants nothing.
    assert evaluate(req("iam:ListUsers"), [], boundary=boundary).decision == "implicitDeny"
    deny_boundary = [policy(DENY_DELETE_USER, PolicyKind.BOUNDARY)]
    assert (
        evaluate(req("iam:DeleteUser"), identity, boundary=deny_boundary).decision == "explicitDeny"
    )


def test_session_policy() -> None:
    """ "Session policies": the session's permissions are identity AND session policies."""
    identity = [policy(ALLOW_ALL)]
    session = [policy(ALLOW_IAM_READ, PolicyKind.SESSION, "session")]
    assert evaluate(req("iam:GetUser"), identity, session=session).decision == "allowed"
    assert evaluate(req("iam:CreateUser"), identity, session=session).decision == "implicitDeny"
    assert evaluate(req("iam:GetUser"), [], session=session).decision == "implicitDeny"
    assert evaluate(req("iam:GetUser"), identity, session=[]).decision == "implicitDeny"


OBJECT = "arn:aws:s3:::logs/2024/a.gz"


def s3(principal: str, **kw: Any) -> Request:
    return req("s3:GetObject", OBJECT, principal, **kw)


def test_resource_policy_same_account() -> None:
    """ "Policy evaluation for requests within a single account": identity OR resource."""
    by_user = bucket_policy({"AWS": ALICE})
    # The bucket policy names Alice's ARN: allowed without any identity policy...
    assert evaluate(s3(ALICE), [], resource_policy=by_user).decision == "allowed"
    # ...and even when a boundary does not allow it (permissions boundaries page).
    boundary = [policy(ALLOW_IAM_READ, PolicyKind.BOUNDARY)]
    assert evaluate(s3(ALICE), [], boundary=boundary, resource_policy=by_user).decision == "allowed"
    # Bob is not named.
    assert evaluate(s3(BOB), [], resource_policy=by_user).decision == "implicitDeny"
    # Identity allows, resource policy silent: still allowed (union).
    allow_s3 = [
        policy(
            {
                "Version": "2012-10-17",
                "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            }
        )
    ]
    assert evaluate(s3(BOB), allow_s3, resource_policy=by_user).decision == "allowed"
    # Naming the account delegates to identity policies.
    by_account = bucket_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    assert evaluate(s3(ALICE), [], resource_policy=by_account).decision == "implicitDeny"
    assert evaluate(s3(ALICE), allow_s3, resource_policy=by_account).decision == "allowed"
    # "*" names everybody.
    assert evaluate(s3(BOB), [], resource_policy=bucket_policy("*")).decision == "allowed"
    # A deny in the resource policy wins over the identity allow.
    deny = bucket_policy({"AWS": ACCOUNT}, effect="Deny")
    assert evaluate(s3(ALICE), allow_s3, resource_policy=deny).decision == "explicitDeny"


def test_resource_policy_role_sessions() -> None:
    """Resource policy naming a role ARN: its sessions match, limited by boundary/session."""
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/Reader/alice-session"
    by_role = bucket_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/Reader"})
    assert evaluate(s3(session_arn), [], resource_policy=by_role).decision == "allowed"
    session = [policy(ALLOW_IAM_READ, PolicyKind.SESSION)]
    assert (
        evaluate(s3(session_arn), [], session=session, resource_policy=by_role).decision
        == "implicitDeny"
    )
    by_session = bucket_policy({"AWS": session_arn})
    assert (
        evaluate(s3(session_arn), [], session=session, resource_policy=by_session).decision
        == "allowed"
    )


def test_resource_policy_cross_account() -> None:
    """ "Cross-account policy evaluation logic": both sides must allow."""
    other_user = f"arn:aws:iam::{OTHER}:user/carol"
    by_user = bucket_policy({"AWS": other_user})
    allow_s3 = [
        policy(
            {
                "Version": "2012-10-17",
                "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            }
        )
    ]
    assert (
        evaluate(s3(other_user, resource_account=ACCOUNT), [], resource_policy=by_user).decision
        == "implicitDeny"
    )
    assert (
        evaluate(
            s3(other_user, resource_account=ACCOUNT), allow_s3, resource_policy=by_user
        ).decision
        == "allowed"
    )
    assert evaluate(s3(other_user, resource_account=ACCOUNT), allow_s3).decision == "implicitDeny"


def test_trust_policy_must_allow() -> None:
    """Role trust policies are the exception: the trust policy itself must allow."""
    trust = policy(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Principal": {"AWS": ALICE},
                "Action": "sts:AssumeRole",
            },
        },
        PolicyKind.TRUST,
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    assume = [
        policy(
            {
                "Version": "2012-10-17",
                "Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
            }
        )
    ]
    assert (
        evaluate(req("sts:AssumeRole", role, ALICE), [], resource_policy=trust).decision
        == "allowed"
    )
    assert (
        evaluate(req("sts:AssumeRole", role, BOB), assume, resource_policy=trust).decision
        == "implicitDeny"
    )


def test_not_principal_deny() -> None:
    """NotPrincipal with Deny: everyone except the named principal is denied."""
    body = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "NotPrincipal": {"AWS": ALICE},
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::logs/*",
            },
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::logs/*",
            },
        ],
    }
    rp = policy(body, PolicyKind.RESOURCE)
    assert evaluate(s3(ALICE), [], resource_policy=rp).decision == "allowed"
    assert evaluate(s3(BOB), [], resource_policy=rp).decision == "explicitDeny"


def test_context_keys() -> None:
    """GetContextKeysForCustomPolicy: condition keys and variables, sorted, de-duplicated."""
    keys = context_keys(
        [policy(SELF_MANAGE_WITH_MFA), policy(DENY_OUTSIDE_IP), policy(WITHIN_DATES)]
    )
    assert keys == [
        "aws:CurrentTime",
        "aws:MultiFactorAuthPresent",
        "aws:SourceIp",
        "aws:username",
        "aws:ViaAWSService",
    ]


def test_policy_set_is_reusable_and_sequences_accepted() -> None:
    pset = PolicySet([policy(ALLOW_IAM_READ), policy(DENY_DELETE_USER)])
    for _ in range(3):
        assert evaluate(req("iam:ListUsers"), pset).decision == "allowed"
        assert evaluate(req("iam:DeleteUser"), pset).decision == "explicitDeny"
        assert evaluate(req("iam:CreateUser"), pset).decision == "implicitDeny"
    result: Evaluation = evaluate(req("iam:ListUsers"), list(pset.policies))
    assert result.allowed
