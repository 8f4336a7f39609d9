"""``selfiam offboard USER``: remove everything IAM requires before DeleteUser, then the user.

AWS's DeleteUser refuses (DeleteConflict) while the user still has any of: access keys,
signing certificates, SSH public keys, service-specific (Git) credentials, MFA devices, a
login profile, inline policies, attached managed policies or group memberships. This module
lists them (`inventory`), removes them one step at a time in that order (`run`), and proves
the user is gone (`prove_gone`: GetUser answers NoSuchEntity). The permissions boundary is
removed too, before the user, so no trace of the user's set-up is left half-deleted. Before
all of it, the user is taken out of every role trust policy that names them, and with
``--revoke-role-sessions`` those roles' older sessions are revoked (`offboard_roles`).

Every step tolerates NoSuchEntity, so an offboarding that was interrupted (a killed process,
a lost connection) is finished by running it again: the new inventory holds only what is
left. A virtual MFA device is deactivated and then deleted; if the run stopped in between,
the device is no longer listed for the user, so unassigned virtual devices named after the
user are included as well.

selfiam has a one-step offboarding operation of its own (``selfiam user remove``), but it is
not part of the AWS API, so this module always takes AWS's step-by-step path — the same on
AWS, on selfiam and on any other IAM implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from selfiam.tooling.endpoint import error_code, is_missing, is_unsupported
from selfiam.tooling.offboard_roles import role_steps


@dataclass(frozen=True)
class Step:
    """One removal: ``what`` names the thing, ``action`` the IAM call that removes it."""

    what: str
    action: str
    call: Callable[[], Any] = field(repr=False, compare=False)


@dataclass
class Inventory:
    user: str
    exists: bool
    steps: list[Step] = field(default_factory=list)
    #: What could not be listed, and why (e.g. an operation the endpoint does not support).
    notes: list[str] = field(default_factory=list)


def _paged(iam: Any, operation: str, key: str, **params: Any) -> Iterable[Any]:
    for page in iam.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def _virtual(serial: str) -> bool:
    return ":mfa/" in serial


def _named_after(serial: str, user: str) -> bool:
    return serial.rsplit("/", 1)[-1] == user


def inventory(iam: Any, user: str, *, revoke_role_sessions: bool = False) -> Inventory:
    """Everything of ``user`` that has to go, as steps in AWS's order, ending in DeleteUser.

    First what the user holds through roles (`offboard_roles`): their principal taken out
    of every trust policy that names them and, with ``revoke_role_sessions``, the sessions
    of those roles revoked; the rest follows in the order DeleteUser requires."""
    try:
        details = iam.get_user(UserName=user)["User"]
    except Exception as exc:
        if is_missing(exc):
            return Inventory(user, exists=False)
        raise
    inv = Inventory(user, exists=True)
    add = inv.steps.append
    u = {"UserName": user}
    for what, action, call in role_steps(iam, details, revoke=revoke_role_sessions):
        add(Step(what, action, call))

    inv.steps += _removals(
        _paged(iam, "list_access_keys", "AccessKeyMetadata", **u),
        "AccessKeyId",
        lambda key: f"access key {key['AccessKeyId']} ({key.get('Status', '?')})",
        "DeleteAccessKey",
        iam.delete_access_key,
        u,
    )
    inv.steps += _removals(
        _paged(iam, "list_signing_certificates", "Certificates", **u),
        "CertificateId",
        lambda cert: f"signing certificate {cert['CertificateId']}",
        "DeleteSigningCertificate",
        iam.delete_signing_certificate,
        u,
    )
    inv.steps += _removals(
        _paged(iam, "list_ssh_public_keys", "SSHPublicKeys", **u),
        "SSHPublicKeyId",
        lambda ssh: f"SSH public key {ssh['SSHPublicKeyId']}",
        "DeleteSSHPublicKey",
        iam.delete_ssh_public_key,
        u,
    )
    try:
        credentials = iam.list_service_specific_credentials(**u)["ServiceSpecificCredentials"]
    except Exception as exc:
        if not is_unsupported(exc):
            raise
        inv.notes.append(
            "service-specific credentials: not supported by this endpoint "
            f"({_short(exc)}); none can exist there"
        )
        credentials = []
    inv.steps += _removals(
        credentials,
        "ServiceSpecificCredentialId",
        lambda cred: (
            f"service-specific credential {cred['ServiceSpecificCredentialId']} "
            f"for {cred.get('ServiceName', '?')}"
        ),
        "DeleteServiceSpecificCredential",
        iam.delete_service_specific_credential,
        u,
    )
    assigned = set()
    for device in _paged(iam, "list_mfa_devices", "MFADevices", **u):
        serial = device["SerialNumber"]
        assigned.add(serial)
        add(
            Step(
                f"MFA device {serial}",
                "DeactivateMFADevice",
                partial(iam.deactivate_mfa_device, SerialNumber=serial, **u),
            )
        )
        if _virtual(serial):
            add(_delete_virtual(iam, serial))
    for device in _paged(
        iam, "list_virtual_mfa_devices", "VirtualMFADevices", AssignmentStatus="Unassigned"
    ):
        serial = device["SerialNumber"]
        if serial not in assigned and _named_after(serial, user):
            step = _delete_virtual(iam, serial)
            add(Step(f"unassigned {step.what} (named after the user)", step.action, step.call))
    try:
        iam.get_login_profile(**u)
        add(Step("login profile", "DeleteLoginProfile", partial(iam.delete_login_profile, **u)))
    except Exception as exc:
        if not is_missing(exc):
            raise
    inv.steps += _removals(
        ({"PolicyName": name} for name in _paged(iam, "list_user_policies", "PolicyNames", **u)),
        "PolicyName",
        lambda policy: f"inline policy {policy['PolicyName']}",
        "DeleteUserPolicy",
        iam.delete_user_policy,
        u,
    )
    inv.steps += _removals(
        _paged(iam, "list_attached_user_policies", "AttachedPolicies", **u),
        "PolicyArn",
        lambda attached: f"attached policy {attached['PolicyArn']}",
        "DetachUserPolicy",
        iam.detach_user_policy,
        u,
    )
    boundary = (details.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    if boundary:
        add(
            Step(
                f"permissions boundary {boundary}",
                "DeleteUserPermissionsBoundary",
                partial(iam.delete_user_permissions_boundary, **u),
            )
        )
    inv.steps += _removals(
        _paged(iam, "list_groups_for_user", "Groups", **u),
        "GroupName",
        lambda group: f"membership of group {group['GroupName']}",
        "RemoveUserFromGroup",
        iam.remove_user_from_group,
        u,
    )
    add(Step(f"user {details['Arn']}", "DeleteUser", partial(iam.delete_user, **u)))
    return inv


def _removals(
    items: Iterable[Any],
    id_param: str,
    what: Callable[[Any], str],
    action: str,
    remove: Callable[..., Any],
    user: dict[str, str],
) -> list[Step]:
    """One step per listed item: ``remove(<id_param>=item[id_param], UserName=...)``."""
    return [
        Step(what(item), action, partial(remove, **{id_param: item[id_param]}, **user))
        for item in items
    ]


def _delete_virtual(iam: Any, serial: str) -> Step:
    return Step(
        f"virtual MFA device {serial}",
        "DeleteVirtualMFADevice",
        partial(iam.delete_virtual_mfa_device, SerialNumber=serial),
    )


def _short(exc: BaseException) -> str:
    """Why an operation counts as unsupported, in a few words."""
    code = error_code(exc)
    return code if code else "its answer is not an AWS response"


def run(
    inv: Inventory,
    report: Callable[[str], None],
    after_step: Callable[[int], None] | None = None,
) -> None:
    """Take the steps in order; what is already gone is reported and skipped. Any other
    error stops the run (the rest is left for a re-run once the cause is fixed)."""
    for number, step in enumerate(inv.steps, start=1):
        try:
            step.call()
        except Exception as exc:
            if is_missing(exc):
                report(f"[{number}/{len(inv.steps)}] already gone: {step.what}")
            elif step.action == "DeleteUserPermissionsBoundary" and is_unsupported(exc):
                report(
                    f"[{number}/{len(inv.steps)}] not supported by this endpoint: "
                    f"{step.action} ({_short(exc)}); the boundary goes with the user"
                )
            else:
                raise
        else:
            report(f"[{number}/{len(inv.steps)}] {step.action}: {step.what}")
        if after_step is not None:
            after_step(number)


def prove_gone(iam: Any, user: str) -> bool:
    """True when GetUser answers NoSuchEntity for ``user``."""
    try:
        iam.get_user(UserName=user)
    except Exception as exc:
        if is_missing(exc):
            return True
        raise
    return False
