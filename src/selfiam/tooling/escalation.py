"""Known IAM privilege-escalation paths: the grants that let a holder raise their own rights.

After Rhino Security Labs' catalogue of AWS IAM escalation methods (and the privilege-escalation
list policy_sentry ships): each path is an action, the kind of grant that makes it dangerous,
and the reason shown to the user. `selfiam policy lint` warns on them; `selfiam verify
self-service` asserts that a self-service member is denied every one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Scope(enum.Enum):
    """When a grant of the action is an escalation path."""

    #: On any resource, even the holder's own user: the action rewrites permissions.
    ANYWHERE = "anywhere"
    #: Unless restricted to the holder's own user (``.../${aws:username}``).
    OTHER_USERS = "other users"
    #: When granted on every resource (``*``, a ``role/*``-style wildcard, or NotResource).
    ALL_RESOURCES = "all resources"


@dataclass(frozen=True, slots=True)
class EscalationPath:
    action: str
    scope: Scope
    reason: str
    #: The resource type verify probes it on: user, group, policy or role.
    target: str


_ATTACH = "attaches any managed policy, including AdministratorAccess"
_INLINE = "writes an inline policy granting anything"

PATHS: tuple[EscalationPath, ...] = (
    EscalationPath("iam:PutUserPolicy", Scope.ANYWHERE, f"{_INLINE} to a user", "user"),
    EscalationPath("iam:PutGroupPolicy", Scope.ANYWHERE, f"{_INLINE} to a group", "group"),
    EscalationPath("iam:PutRolePolicy", Scope.ANYWHERE, f"{_INLINE} to a role", "role"),
    EscalationPath("iam:AttachUserPolicy", Scope.ANYWHERE, f"{_ATTACH}, to a user", "user"),
    EscalationPath("iam:AttachGroupPolicy", Scope.ANYWHERE, f"{_ATTACH}, to a group", "group"),
    EscalationPath("iam:AttachRolePolicy", Scope.ANYWHERE, f"{_ATTACH}, to a role", "role"),
    EscalationPath(
        "iam:AddUserToGroup",
        Scope.ANYWHERE,
        "adds a user (the holder too) to a more privileged group",
        "group",
    ),
    EscalationPath(
        "iam:CreatePolicyVersion",
        Scope.ANYWHERE,
        "writes a new default version of a managed policy, granting anything to all its holders",
        "policy",
    ),
    EscalationPath(
        "iam:SetDefaultPolicyVersion",
        Scope.ANYWHERE,
        "switches a managed policy to another, possibly broader, version",
        "policy",
    ),
    EscalationPath(
        "iam:PutUserPermissionsBoundary",
        Scope.ANYWHERE,
        "replaces the permissions boundary that limits a user",
        "user",
    ),
    EscalationPath(
        "iam:DeleteUserPermissionsBoundary",
        Scope.ANYWHERE,
        "removes the permissions boundary that limits a user",
        "user",
    ),
    EscalationPath(
        "iam:PutRolePermissionsBoundary",
        Scope.ANYWHERE,
        "replaces the permissions boundary that limits a role",
        "role",
    ),
    EscalationPath(
        "iam:DeleteRolePermissionsBoundary",
        Scope.ANYWHERE,
        "removes the permissions boundary that limits a role",
        "role",
    ),
    EscalationPath(
        "iam:UpdateAssumeRolePolicy",
        Scope.ANYWHERE,
        "rewrites a role's trust policy so that the holder may assume the role",
        "role",
    ),
    EscalationPath(
        "iam:CreateAccessKey",
        Scope.OTHER_USERS,
        "creates an access key for another user and acts as them",
        "user",
    ),
    EscalationPath(
        "iam:CreateLoginProfile",
        Scope.OTHER_USERS,
        "sets a console password for another user and signs in as them",
        "user",
    ),
    EscalationPath(
        "iam:UpdateLoginProfile",
        Scope.OTHER_USERS,
        "changes another user's console password and signs in as them",
        "user",
    ),
    EscalationPath(
        "iam:CreateServiceSpecificCredential",
        Scope.OTHER_USERS,
        "creates a service credential (CodeCommit, Keyspaces) for another user",
        "user",
    ),
    EscalationPath(
        "iam:ResetServiceSpecificCredential",
        Scope.OTHER_USERS,
        "resets another user's service credential and reads the new secret",
        "user",
    ),
    EscalationPath(
        "iam:UploadSSHPublicKey",
        Scope.OTHER_USERS,
        "adds an SSH key to another user (CodeCommit access as them)",
        "user",
    ),
    EscalationPath(
        "iam:DeactivateMFADevice",
        Scope.OTHER_USERS,
        "removes another user's MFA device, the second factor protecting them",
        "user",
    ),
    EscalationPath(
        "iam:PassRole",
        Scope.ALL_RESOURCES,
        "hands any role, an administrator's too, to a service (EC2, Lambda, ...) that then "
        "acts with it for the holder",
        "role",
    ),
    EscalationPath(
        "sts:AssumeRole",
        Scope.ALL_RESOURCES,
        "assumes any role whose trust policy admits the account",
        "role",
    ),
)

BY_ACTION: dict[str, EscalationPath] = {p.action.lower(): p for p in PATHS}
