"""``selfiam verify self-service``: prove what a self-service member may and may not do.

A battery of simulated requests for one member (a probe user): every self-service action on
their own user must be allowed, with MFA and, where the policy does not ask for it, without;
with ``require_mfa`` the access-key, signing-certificate and SSH-key actions must be denied
without MFA; every credential action on another user, and every known escalation path
(`escalation.PATHS`), must be denied even with MFA, and so must every role action that
gives power (`ROLE_ACTIONS`: assuming a role not meant for them, editing a trust policy,
PassRole, CreateRole, attaching or writing a role policy, removing a role's boundary).
The point is the seed's lesson: find out in CI, not from a colleague who "can't do
something".

MFA states, as IAM's request context has them: ``yes`` (``aws:MultiFactorAuthPresent`` true,
``aws:MultiFactorAuthAge`` 60), ``no`` (present and false: a console session signed in
without MFA) and ``absent`` (no key at all: a request signed with a long-term access key).
Both "without" states are probed where MFA is required, because a policy that denies on
``"Bool": {"aws:MultiFactorAuthPresent": "false"}`` leaves the ``absent`` case open.
Deactivating and deleting one's MFA device are probed only with MFA: whether they need it is
the policy's choice (AWS's example policy asks for it).

The answers come from a `Simulator`: the local policy engine (`LocalSimulator`), or an IAM
endpoint's SimulateCustomPolicy / SimulatePrincipalPolicy through a boto3 client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from selfiam.tooling.escalation import PATHS, Scope

DEFAULT_MEMBER = "selfiam-verify-member"
OTHER_USER = "selfiam-verify-other"
DEFAULT_ACCOUNT = "123456789012"
MFA_STATES = ("yes", "no", "absent")

#: Needed before MFA exists, or to set it up: allowed without MFA.
_ALWAYS = (
    ("iam:GetUser", "user"),
    ("iam:ListUsers", "*"),
    ("iam:ChangePassword", "user"),
    ("iam:ListMFADevices", "user"),
    ("iam:CreateVirtualMFADevice", "mfa"),
    ("iam:EnableMFADevice", "user"),
    ("iam:ResyncMFADevice", "user"),
)
#: Credential management that ``require_mfa`` puts behind MFA.
_CREDENTIALS = (
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:UploadSigningCertificate",
    "iam:UpdateSigningCertificate",
    "iam:DeleteSigningCertificate",
    "iam:UploadSSHPublicKey",
    "iam:UpdateSSHPublicKey",
    "iam:DeleteSSHPublicKey",
)
#: Allowed with MFA; without it is the policy's choice.
_WITH_MFA = (("iam:DeactivateMFADevice", "user"), ("iam:DeleteVirtualMFADevice", "mfa"))
#: Denied on any user but oneself, on top of the above.
_OTHERS_ONLY = (
    ("iam:CreateLoginProfile", "user"),
    ("iam:UpdateLoginProfile", "user"),
    ("iam:DeleteLoginProfile", "user"),
    ("iam:DeleteUser", "user"),
)

#: Never allowed on a role: assume one not meant for them, rewrite who may assume it, hand
#: it to a service, create one, or give one more power (or less limit).
ROLE_ACTIONS = (
    "sts:AssumeRole",
    "iam:CreateRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PassRole",
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
)
#: The roles they are probed on: an administrator's, and one named like the member (a grant
#: on ``role/${aws:username}`` or ``role/*`` is caught there as well).
ADMIN_ROLE = "selfiam-verify-admin"


@dataclass(frozen=True, slots=True)
class Probe:
    action: str
    resource: str
    mfa: str  # one of MFA_STATES
    expect_allowed: bool
    reason: str

    @property
    def expected(self) -> str:
        return "allowed" if self.expect_allowed else "denied"


@dataclass(frozen=True, slots=True)
class Outcome:
    probe: Probe
    decision: str  # allowed, implicitDeny or explicitDeny

    @property
    def ok(self) -> bool:
        return (self.decision == "allowed") == self.probe.expect_allowed


@dataclass(frozen=True, slots=True)
class Target:
    """Who is probed, and the ARNs of the things the battery names."""

    member: str
    account: str = DEFAULT_ACCOUNT
    member_arn: str | None = None  # the real ARN (with its path), when known
    group: str = "SelfService"
    policy_arn: str | None = None

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iam::{self.account}:{kind}/{name}"

    @property
    def user_arn(self) -> str:
        return self.member_arn or self.arn("user", self.member)

    @property
    def others(self) -> tuple[str, ...]:
        """Another user, and one whose name starts with the member's (``${aws:username}*``)."""
        return (OTHER_USER if self.member != OTHER_USER else f"{OTHER_USER}-2", f"{self.member}2")


def battery(target: Target, *, require_mfa: bool = True) -> list[Probe]:
    """The simulated requests, and what each must be answered."""
    own = {"user": target.user_arn, "mfa": target.arn("mfa", target.member), "*": "*"}
    probes: list[Probe] = []
    for action, kind in _ALWAYS:
        for mfa in ("no", "yes"):
            probes.append(Probe(action, own[kind], mfa, True, "own, no MFA needed"))
    for action in _CREDENTIALS:
        probes.append(Probe(action, own["user"], "yes", True, "own credential, with MFA"))
        for mfa in ("no", "absent"):
            reason = "own credential, without MFA"
            probes.append(Probe(action, own["user"], mfa, not require_mfa, reason))
    for action, kind in _WITH_MFA:
        probes.append(Probe(action, own[kind], "yes", True, "own MFA device, with MFA"))

    user_actions = [a for a, k in _ALWAYS + _WITH_MFA + _OTHERS_ONLY if k == "user"]
    user_actions += list(_CREDENTIALS)
    user_actions += [p.action for p in PATHS if p.scope is Scope.OTHER_USERS]
    mfa_actions = [a for a, k in _ALWAYS + _WITH_MFA if k == "mfa"]
    read_only = {"iam:GetUser", "iam:ListMFADevices"}  # reading IAM is self-service by design
    for other in target.others:
        for action in dict.fromkeys(user_actions):
            if action not in read_only:
                resource = target.arn("user", other)
                probes.append(Probe(action, resource, "yes", False, "another user"))
        for action in mfa_actions:
            probes.append(Probe(action, target.arn("mfa", other), "yes", False, "another user"))

    for role in (ADMIN_ROLE, target.member):
        for action in ROLE_ACTIONS:
            probes.append(Probe(action, target.arn("role", role), "yes", False, "a role"))

    escalation = {
        "user": target.user_arn,
        "group": target.arn("group", target.group),
        "policy": target.policy_arn or target.arn("policy", "SelfServiceCredentials"),
    }
    for path in PATHS:
        if path.scope is not Scope.OTHER_USERS and path.target != "role":  # roles: above
            probes.append(
                Probe(path.action, escalation[path.target], "yes", False, "escalation path")
            )
    return probes


def context_entries(member: str, mfa: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [
        {"ContextKeyName": "aws:username", "ContextKeyValues": [member], "ContextKeyType": "string"}
    ]
    if mfa == "yes":
        entries.append(_entry("aws:MultiFactorAuthPresent", "true", "boolean"))
        entries.append(_entry("aws:MultiFactorAuthAge", "60", "numeric"))
    elif mfa == "no":
        entries.append(_entry("aws:MultiFactorAuthPresent", "false", "boolean"))
    return entries


def _entry(name: str, value: str, kind: str) -> dict[str, Any]:
    return {"ContextKeyName": name, "ContextKeyValues": [value], "ContextKeyType": kind}


class Simulator(Protocol):
    def decisions(
        self, actions: Sequence[str], resource: str, context: list[dict[str, Any]]
    ) -> dict[str, str]:
        """Action name -> EvalDecision, for one resource and one request context."""
        ...


def run_battery(probes: Sequence[Probe], simulator: Simulator, member: str) -> list[Outcome]:
    """Simulate every probe: one call per (resource, MFA state), answers in probe order."""
    groups: dict[tuple[str, str], list[str]] = {}
    for probe in probes:
        groups.setdefault((probe.resource, probe.mfa), []).append(probe.action)
    answers: dict[tuple[str, str, str], str] = {}
    for (resource, mfa), actions in groups.items():
        unique = list(dict.fromkeys(actions))
        found = simulator.decisions(unique, resource, context_entries(member, mfa))
        for action in unique:
            answers[(action, resource, mfa)] = found.get(action, "implicitDeny")
    return [Outcome(p, answers[(p.action, p.resource, p.mfa)]) for p in probes]


# ---------------------------------------------------------------------------------------------
# Simulators.


_RANK = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
#: Pages followed for one call before giving up on an endpoint that never ends them.
MAX_PAGES = 10_000


class PagingError(RuntimeError):
    """The endpoint's IsTruncated / Marker do not lead to the end of the results."""


def _paged(
    call: Callable[..., Mapping[str, Any]], page_size: int | None = None, **params: Any
) -> dict[str, str]:
    """Action name -> EvalDecision over every page (IsTruncated / Marker).

    AWS and selfiam answer one result per action whose top-level EvalDecision is the most
    restrictive over ResourceArns (each resource's own is in ResourceSpecificResults);
    the battery asks one resource per call, so that is the resource's decision. AWS's
    simulator used to answer one result per resource instead, each with that same
    aggregate: an action answered more than once keeps its most restrictive decision."""
    if page_size is not None:
        params["MaxItems"] = page_size
    decisions: dict[str, str] = {}
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        response = call(**params)
        for result in response.get("EvaluationResults", []):
            action, decision = result["EvalActionName"], result["EvalDecision"]
            if _RANK.get(decision, 2) >= _RANK.get(decisions.get(action, "allowed"), 2):
                decisions[action] = decision
        if not response.get("IsTruncated"):
            return decisions
        marker = response.get("Marker")
        if not marker or marker in seen:
            raise PagingError(f"IsTruncated without a new Marker (after {len(seen)} pages)")
        seen.add(marker)
        params["Marker"] = marker
    raise PagingError(f"more than {MAX_PAGES} pages of results")


class LocalSimulator:
    """selfiam's own engine, SimulateCustomPolicy's semantics, no server."""

    def __init__(
        self, policies: Sequence[str], now: datetime | None = None, page_size: int | None = None
    ) -> None:
        self.policies = list(policies)
        self.now = now or datetime.now(UTC)
        self.page_size = page_size

    def decisions(
        self, actions: Sequence[str], resource: str, context: list[dict[str, Any]]
    ) -> dict[str, str]:
        from selfiam.service.simulate import simulate_custom_policy

        def call(**params: Any) -> Mapping[str, Any]:
            return simulate_custom_policy(params, now=self.now)

        return _paged(
            call,
            self.page_size,
            PolicyInputList=self.policies,
            ActionNames=list(actions),
            ResourceArns=[resource],
            ContextEntries=context,
        )


class CustomPolicySimulator:
    """An endpoint's SimulateCustomPolicy over the given policy documents."""

    def __init__(self, client: Any, policies: Sequence[str], page_size: int | None = None) -> None:
        self.client = client
        self.policies = list(policies)
        self.page_size = page_size

    def decisions(
        self, actions: Sequence[str], resource: str, context: list[dict[str, Any]]
    ) -> dict[str, str]:
        return _paged(
            self.client.simulate_custom_policy,
            self.page_size,
            PolicyInputList=self.policies,
            ActionNames=list(actions),
            ResourceArns=[resource],
            ContextEntries=context,
        )


class PrincipalSimulator:
    """An endpoint's SimulatePrincipalPolicy: the user's own, group and boundary policies."""

    def __init__(self, client: Any, principal_arn: str, page_size: int | None = None) -> None:
        self.client = client
        self.principal_arn = principal_arn
        self.page_size = page_size

    def decisions(
        self, actions: Sequence[str], resource: str, context: list[dict[str, Any]]
    ) -> dict[str, str]:
        return _paged(
            self.client.simulate_principal_policy,
            self.page_size,
            PolicySourceArn=self.principal_arn,
            ActionNames=list(actions),
            ResourceArns=[resource],
            ContextEntries=context,
        )


def _document(value: Any) -> str:
    """boto3 hands policy documents back decoded (a dict); the simulator wants text."""
    return value if isinstance(value, str) else json.dumps(value)


def group_policies(client: Any, group: str) -> tuple[list[str], list[str]]:
    """A group's policy documents (attached managed ones at their default version, then
    inline ones) and the ARNs of the managed ones."""
    documents: list[str] = []
    arns: list[str] = []
    for page in client.get_paginator("list_attached_group_policies").paginate(GroupName=group):
        for attached in page["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            found = client.get_policy_version(PolicyArn=arn, VersionId=version)
            documents.append(_document(found["PolicyVersion"]["Document"]))
            arns.append(arn)
    for page in client.get_paginator("list_group_policies").paginate(GroupName=group):
        for name in page["PolicyNames"]:
            inline = client.get_group_policy(GroupName=group, PolicyName=name)
            documents.append(_document(inline["PolicyDocument"]))
    return documents, arns


def mismatches(outcomes: Iterable[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.ok]
