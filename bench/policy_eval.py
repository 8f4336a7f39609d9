"""Policy evaluation: decisions per second, selfiam's engine side by side with moto's.

Run: ``.venv/bin/python bench/policy_eval.py`` (``--quick`` for a short run).

What is measured: the time of one authorization decision with the principal's policies
already parsed and indexed, as a server holds them; the request context is built before the
clock starts (that is request parsing, not deciding) and nothing remembers past decisions.
Each figure is the median of several repeats of N decisions (the machine is shared and
noisy), in microseconds per decision.

Two principals:

* self-service: AWS's documented example "Allows MFA-authenticated IAM users to manage their
  own credentials on the Security credentials page" plus the IAMReadOnlyAccess managed
  policy, against 12 decisions whose AWS answer is written down with the reason;
* heavy: 10 attached policies, 100 statements in all, with wildcards, ``${aws:username}`` and
  StringEquals / StringLike / IpAddress / DateLessThan / Bool / ForAnyValue conditions,
  against 20 decisions, also with their expected answers.

moto's IAM evaluator (``moto.iam.access_control.IAMPolicy.is_action_permitted``, combined
the way moto's ``IAMRequestBase.check_action_permitted`` combines a principal's policies)
decides the same self-service cases with the documents pre-parsed once. It evaluates only
StringEquals conditions and substitutes no policy variables, so it gets some of them wrong;
the script counts how many. selfiam must get every one right: the script exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selfiam.policy import PolicyKind, PolicySet, Request, RequestContext, evaluate, parse_policy

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

# --- self-service principal ------------------------------------------------------------------

_OWN_USER = "arn:aws:iam::*:user/${aws:username}"

#: AWS: "Allows MFA-authenticated IAM users to manage their own credentials on the Security
#: credentials page" (IAM User Guide, example policies).
MFA_SELF_SERVICE: dict[str, Any] = {
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
            "Resource": _OWN_USER,
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
            "Resource": _OWN_USER,
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
            "Resource": _OWN_USER,
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
            "Resource": _OWN_USER,
        },
        {
            "Sid": "AllowManageOwnGitCredentials",
            "Effect": "Allow",
            "Action": [
                "iam:CreateServiceSpecificCredential",
                "iam:DeleteServiceSpecificCredential",
                "iam:ListServiceSpecificCredentials",
                "iam:ResetServiceSpecificCredential",
                "iam:UpdateServiceSpecificCredential",
            ],
            "Resource": _OWN_USER,
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
            "Resource": _OWN_USER,
        },
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetUser",
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


def iam_read_only() -> dict[str, Any]:
    """IAMReadOnlyAccess, from the AWS managed policies selfiam ships."""
    from selfiam.catalog.managed_policies import load_dataset

    (entry,) = [p for p in load_dataset() if p.name == "IAMReadOnlyAccess"]
    document: dict[str, Any] = json.loads(entry.document)
    return document


@dataclass(frozen=True)
class Case:
    """One decision and the answer AWS gives, with why."""

    name: str
    action: str
    resource: str
    context: dict[str, str | list[str]]
    expected: str
    reason: str


def _user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


_MFA = {"aws:username": "alice", "aws:MultiFactorAuthPresent": "true"}
_NO_MFA = {"aws:username": "alice", "aws:MultiFactorAuthPresent": "false"}
_LONG_TERM_KEY = {"aws:username": "alice"}  # long-term access keys: the MFA key is absent

SELF_SERVICE_CASES: tuple[Case, ...] = (
    Case("own key, MFA", "iam:CreateAccessKey", _user("alice"), _MFA, "allowed",
         "AllowManageOwnAccessKeys matches user/alice; the MFA deny's BoolIfExists is false"),
    Case("own key, no MFA", "iam:CreateAccessKey", _user("alice"), _NO_MFA, "explicitDeny",
         "DenyAllExceptListedIfNoMFA: CreateAccessKey is not in its NotAction list"),
    Case("own key, long-term key", "iam:CreateAccessKey", _user("alice"), _LONG_TERM_KEY,
         "explicitDeny", "BoolIfExists is true when aws:MultiFactorAuthPresent is absent"),
    Case("bob's key, MFA", "iam:CreateAccessKey", _user("bob"), _MFA, "implicitDeny",
         "${aws:username} is alice: user/bob matches no Allow, and nothing denies"),
    Case("list users, MFA", "iam:ListUsers", "*", _MFA, "allowed",
         "IAMReadOnlyAccess allows iam:List* on *"),
    Case("list users, no MFA", "iam:ListUsers", "*", _NO_MFA, "explicitDeny",
         "ListUsers is not in the NotAction list, so the MFA deny applies"),
    Case("own password, no MFA", "iam:ChangePassword", _user("alice"), _NO_MFA, "explicitDeny",
         "ChangePassword is not exempt from the MFA deny"),
    Case("own password, MFA", "iam:ChangePassword", _user("alice"), _MFA, "allowed",
         "AllowManageOwnPasswords on user/${aws:username}"),
    Case("enable own MFA, no MFA", "iam:EnableMFADevice", _user("alice"), _NO_MFA, "allowed",
         "EnableMFADevice is exempt (NotAction) and AllowManageOwnUserMFA allows it"),
    Case("create virtual MFA, no MFA", "iam:CreateVirtualMFADevice",
         f"arn:aws:iam::{ACCOUNT}:mfa/alice", _NO_MFA, "allowed",
         "exempt from the MFA deny; AllowManageOwnVirtualMFADevice allows mfa/*"),
    Case("deactivate bob's MFA, MFA", "iam:DeactivateMFADevice", _user("bob"), _MFA,
         "implicitDeny", "AllowManageOwnUserMFA covers only user/alice"),
    Case("get bob, no MFA", "iam:GetUser", _user("bob"), _NO_MFA, "allowed",
         "GetUser is exempt from the MFA deny and IAMReadOnlyAccess allows iam:Get* on *"),
)  # fmt: skip

# --- heavy principal -------------------------------------------------------------------------

HEAVY_SERVICES = (
    "s3", "ec2", "dynamodb", "sqs", "sns", "lambda", "logs", "kms", "cloudwatch", "secretsmanager",
)  # fmt: skip


def _heavy_policy(svc: str) -> dict[str, Any]:
    """Ten statements over one service: the shapes real team policies use."""
    arn = f"arn:aws:{svc}:*:{ACCOUNT}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadFromOffice",
                "Effect": "Allow",
                "Action": [f"{svc}:Get*", f"{svc}:List*", f"{svc}:Describe*"],
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
            },
            {
                "Sid": "WriteOwnForPlatform",
                "Effect": "Allow",
                "Action": [f"{svc}:Put*", f"{svc}:Create*"],
                "Resource": f"{arn}:${{aws:username}}/*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
            },
            {
                "Sid": "UpdateProjects",
                "Effect": "Allow",
                "Action": f"{svc}:Update*",
                "Resource": f"{arn}:project-*/*",
                "Condition": {"StringLike": {"aws:RequestTag/project": "proj-*"}},
            },
            {
                "Sid": "TagWithOwner",
                "Effect": "Allow",
                "Action": [f"{svc}:Tag*", f"{svc}:Untag*"],
                "Resource": "*",
                "Condition": {
                    "ForAnyValue:StringEquals": {"aws:TagKeys": ["owner", "cost-center"]}
                },
            },
            {
                "Sid": "NoDeleteWithoutMFA",
                "Effect": "Deny",
                "Action": f"{svc}:Delete*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
            },
            {
                "Sid": "DeleteOwn",
                "Effect": "Allow",
                "Action": f"{svc}:Delete*",
                "Resource": f"{arn}:${{aws:username}}/*",
            },
            {
                "Sid": "StartUntil2030",
                "Effect": "Allow",
                "Action": [f"{svc}:Start*", f"{svc}:Stop*"],
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            },
            {
                "Sid": "NeverTouchSecrets",
                "Effect": "Deny",
                "Action": f"{svc}:*",
                "Resource": f"arn:aws:{svc}:*:*:secret-*",
            },
            {
                "Sid": "InvokeInHomeRegions",
                "Effect": "Allow",
                "Action": [f"{svc}:Invoke*", f"{svc}:Send*", f"{svc}:Receive*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}},
            },
            {
                "Sid": "BatchInFirstRegions",
                "Effect": "Allow",
                "Action": f"{svc}:Batch*",
                "Resource": f"arn:aws:{svc}:??-*-1:{ACCOUNT}:*",
            },
        ],
    }


def _res(svc: str, name: str, region: str = "eu-west-1") -> str:
    return f"arn:aws:{svc}:{region}:{ACCOUNT}:{name}"


_DANA: dict[str, str | list[str]] = {
    "aws:username": "dana",
    "aws:SourceIp": "10.1.2.3",
    "aws:PrincipalTag/team": "platform",
    "aws:MultiFactorAuthPresent": "true",
    "aws:CurrentTime": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "aws:RequestedRegion": "eu-west-1",
}


def _dana(extra: dict[str, str | list[str]] | None = None) -> dict[str, str | list[str]]:
    """Dana's request context, with some keys changed."""
    return {**_DANA, **(extra or {})}


HEAVY_CASES: tuple[Case, ...] = (
    Case("read from office", "s3:GetObject", _res("s3", "bucket/a"), _dana(), "allowed",
         "ReadFromOffice: 10.1.2.3 is in 10.0.0.0/8"),
    Case("read from outside", "s3:GetObject", _res("s3", "bucket/a"),
         _dana({"aws:SourceIp": "8.8.8.8"}), "implicitDeny", "IpAddress fails; nothing else allows"),
    Case("write own table", "dynamodb:PutItem", _res("dynamodb", "dana/t1"), _dana(), "allowed",
         "WriteOwnForPlatform: ${aws:username} and the team tag match"),
    Case("write erin's table", "dynamodb:PutItem", _res("dynamodb", "erin/t1"), _dana(),
         "implicitDeny", "the resource is not dana/*"),
    Case("delete own, MFA", "ec2:DeleteVolume", _res("ec2", "dana/vol-1"), _dana(), "allowed",
         "DeleteOwn; the no-MFA deny's condition is false"),
    Case("delete own, no MFA", "ec2:DeleteVolume", _res("ec2", "dana/vol-1"),
         _dana({"aws:MultiFactorAuthPresent": "false"}), "explicitDeny", "NoDeleteWithoutMFA"),
    Case("delete erin's", "ec2:DeleteVolume", _res("ec2", "erin/vol-1"), _dana(), "implicitDeny",
         "DeleteOwn covers only dana/*"),
    Case("tag with owner", "sqs:TagQueue", _res("sqs", "q1"), _dana({"aws:TagKeys": ["owner", "env"]}),
         "allowed", "ForAnyValue: owner is one of the listed keys"),
    Case("tag without owner", "sqs:TagQueue", _res("sqs", "q1"), _dana({"aws:TagKeys": ["env"]}),
         "implicitDeny", "ForAnyValue: no listed key"),
    Case("start before 2030", "lambda:StartExecution", _res("lambda", "function:f"), _dana(),
         "allowed", "StartUntil2030: 2026 < 2030"),
    Case("decrypt a secret", "kms:Decrypt", _res("kms", "secret-prod"), _dana(), "explicitDeny",
         "NeverTouchSecrets"),
    Case("read a secret from office", "kms:GetKeyPolicy", _res("kms", "secret-prod"), _dana(),
         "explicitDeny", "NeverTouchSecrets beats ReadFromOffice"),
    Case("update project", "sns:UpdateTopic", _res("sns", "project-a/t"),
         _dana({"aws:RequestTag/project": "proj-7"}), "allowed", "UpdateProjects: proj-7 is like proj-*"),
    Case("update project, wrong tag", "sns:UpdateTopic", _res("sns", "project-a/t"),
         _dana({"aws:RequestTag/project": "other"}), "implicitDeny", "StringLike fails"),
    Case("send in home region", "sqs:SendMessage", _res("sqs", "q1"), _dana(), "allowed",
         "InvokeInHomeRegions: eu-west-1"),
    Case("invoke elsewhere", "lambda:InvokeFunction", _res("lambda", "function:f", "ap-south-1"),
         _dana({"aws:RequestedRegion": "ap-south-1"}), "implicitDeny", "region not listed"),
    Case("batch in eu-west-1", "cloudwatch:BatchGetMetrics", _res("cloudwatch", "m"), _dana(),
         "allowed", "BatchInFirstRegions: eu-west-1 matches ??-*-1"),
    Case("batch in us-east-2", "cloudwatch:BatchGetMetrics", _res("cloudwatch", "m", "us-east-2"),
         _dana(), "implicitDeny", "us-east-2 does not match ??-*-1"),
    Case("another service", "iam:CreateUser", _user("x"), _dana(), "implicitDeny",
         "no policy mentions iam"),
    Case("list secrets from office", "secretsmanager:ListSecrets", "*", _dana(), "allowed",
         "ReadFromOffice on *; the secret deny's resource pattern does not match *"),
)  # fmt: skip

# --- the two evaluators ----------------------------------------------------------------------


@dataclass
class Principal:
    """A principal's policies, parsed once by each evaluator, and its cases."""

    name: str
    documents: list[dict[str, Any]]
    cases: Sequence[Case]
    policy_set: PolicySet = field(init=False)
    requests: list[Request] = field(init=False)

    def __post_init__(self) -> None:
        self.policy_set = PolicySet(
            parse_policy(json.dumps(d), PolicyKind.MANAGED, f"{self.name}-{i}")
            for i, d in enumerate(self.documents)
        )
        self.requests = [
            Request(action=c.action, resource=c.resource, context=RequestContext(c.context))
            for c in self.cases
        ]

    def selfiam_decisions(self) -> list[str]:
        policy_set = self.policy_set
        return [evaluate(r, policy_set).decision for r in self.requests]


class MotoPrincipal:
    """moto's evaluator over the same documents, combined as moto combines a caller's policies."""

    def __init__(self, documents: list[dict[str, Any]], cases: Sequence[Case]) -> None:
        from moto.iam.access_control import IAMPolicy, PermissionResult

        self.policies = [IAMPolicy(json.dumps(d)) for d in documents]
        self.denied = PermissionResult.DENIED
        self.permitted = PermissionResult.PERMITTED
        # moto takes single string values for conditions
        self.cases = [
            (c.action, c.resource, {k: v for k, v in c.context.items() if isinstance(v, str)})
            for c in cases
        ]

    def decisions(self) -> list[str]:
        out = []
        for action, resource, context in self.cases:
            decision = "implicitDeny"
            for policy in self.policies:
                result = policy.is_action_permitted(action, resource, None, context)
                if result == self.denied:
                    decision = "explicitDeny"
                    break
                if result == self.permitted:
                    decision = "allowed"
            out.append(decision)
        return out


def self_service_principal() -> Principal:
    return Principal("self-service", [MFA_SELF_SERVICE, iam_read_only()], SELF_SERVICE_CASES)


def heavy_principal() -> Principal:
    return Principal("heavy", [_heavy_policy(s) for s in HEAVY_SERVICES], HEAVY_CASES)


def wrong(cases: Sequence[Case], decisions: Sequence[str]) -> list[tuple[Case, str]]:
    return [(c, d) for c, d in zip(cases, decisions, strict=True) if c.expected != d]


def check() -> list[str]:
    """selfiam's disagreements with the expected AWS answers (empty when all are right)."""
    problems = []
    for principal in (self_service_principal(), heavy_principal()):
        for case, got in wrong(principal.cases, principal.selfiam_decisions()):
            problems.append(f"{principal.name}: {case.name}: got {got}, AWS says {case.expected}")
    return problems


# --- timing ----------------------------------------------------------------------------------


def interleaved_medians(
    runs: Sequence[tuple[Callable[[], object], int]], loops: int, repeats: int
) -> list[float]:
    """Median microseconds per decision of each run, the runs taking turns in every repeat.

    Taking turns matters on a shared machine: a burst of load from elsewhere then slows
    every evaluator alike instead of one of them, which keeps the ratio honest.
    """
    for run, _ in runs:
        run()  # warm caches (compiled patterns, per-action candidates), as a running server has
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for i, (run, decisions) in enumerate(runs):
            start = time.perf_counter_ns()
            for _ in range(loops):
                run()
            elapsed = time.perf_counter_ns() - start
            samples[i].append(elapsed / (loops * decisions) / 1000)
    return [statistics.median(s) for s in samples]


def loop_ns(repeats: int) -> float:
    """Median ns of one empty Python loop iteration: how fast this (shared) machine is now."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(200_000):
            pass
        samples.append((time.perf_counter_ns() - start) / 200_000)
    return statistics.median(samples)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer loops (a smoke run)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    loops = 200 if args.quick else 2000

    problems = check()
    self_service = self_service_principal()
    heavy = heavy_principal()
    moto = MotoPrincipal(self_service.documents, self_service.cases)
    moto_wrong = wrong(self_service.cases, moto.decisions())
    moto_access_wrong = [
        (c, d) for c, d in moto_wrong if (c.expected == "allowed") != (d == "allowed")
    ]

    ss_us, moto_us, heavy_us = interleaved_medians(
        [
            (self_service.selfiam_decisions, len(self_service.cases)),
            (moto.decisions, len(self_service.cases)),
            (heavy.selfiam_decisions, len(heavy.cases)),
        ],
        loops,
        args.repeats,
    )
    ratio = moto_us / ss_us
    calibration = loop_ns(args.repeats)

    print(f"python {sys.version.split()[0]}; median of {args.repeats} x {loops} runs of each set")
    print(f"machine speed now: an empty Python loop iteration takes {calibration:.0f} ns")
    print()
    print(f"{'principal':<26}{'evaluator':<10}{'us/decision':>12}{'decisions/s':>14}{'wrong':>8}")
    rows = [
        ("self-service (12 cases)", "selfiam", ss_us, len(wrong(self_service.cases, self_service.selfiam_decisions()))),
        ("self-service (12 cases)", "moto", moto_us, len(moto_wrong)),
        ("heavy (20 cases, 100 st.)", "selfiam", heavy_us, len(wrong(heavy.cases, heavy.selfiam_decisions()))),
    ]  # fmt: skip
    for name, evaluator, us, bad in rows:
        print(f"{name:<26}{evaluator:<10}{us:>12.2f}{1e6 / us:>14,.0f}{bad:>8}")
    print()
    print(
        f"moto gets {len(moto_wrong)} of {len(self_service.cases)} self-service decisions wrong "
        f"({len(moto_access_wrong)} of them allow where AWS denies or the reverse):"
    )
    for case, got in moto_wrong:
        print(f"  {case.name:<28} moto {got:<13} AWS {case.expected:<13} ({case.reason})")
    for problem in problems:
        print(f"SELFIAM WRONG: {problem}")
    print()
    print(
        f"policy_eval: self-service {ss_us:.1f} us/decision (selfiam/moto ratio {ratio:.1f}), "
        f"heavy principal {heavy_us:.1f} us/decision"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
