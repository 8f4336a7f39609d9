"""``selfiam verify self-service --live``: real requests beside the simulated ones.

A simulation answers what the policies say; a live request also goes through the server's
authentication and trust-policy evaluation. The probe here creates a throwaway member
(a user in the verified group, with an access key and a virtual MFA device) and a role
whose trust policy names the account root, which admits any principal of the account whose
own policies allow ``sts:AssumeRole`` on it. AssumeRole must then answer AccessDenied, both
signed with the member's key and with their MFA session (a self-service policy denies most
things without MFA, so only the MFA session shows what a grant would let through).
Everything created is deleted again, whatever happened.

It writes to the account, and it asks the real server for a decision that only selfiam
takes at once (AWS's IAM is eventually consistent: a fresh key or membership may take
seconds to work), so the command offers it for selfiam endpoints only.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pyotp

from selfiam.tooling.endpoint import error_code, is_missing
from selfiam.tooling.verify import Outcome, Probe

PREFIX = "selfiam-verify-live"
REASON = "live AssumeRole, member's key; the role trusts the account root"


def root_trust(account: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def assume_role_probe(
    iam: Any,
    sts_for: Callable[[dict[str, Any]], Any],
    group: str,
    account: str,
    clock: Callable[[], float] = time.time,
) -> list[Outcome]:
    """AssumeRole on a role trusting the account root, by a fresh member of ``group``: with
    their long-term key (MFA absent) and with an MFA session of theirs (GetSessionToken with
    a code of a virtual device enabled for them, MFA present: the state the simulated
    probes assume). Each outcome is ``AccessDenied`` (as expected) or ``allowed``."""
    name = f"{PREFIX}-{secrets.token_hex(4)}"
    undo: list[Callable[[], Any]] = []
    outcomes: list[Outcome] = []
    try:
        iam.create_user(UserName=name)
        undo.append(lambda: iam.delete_user(UserName=name))
        iam.add_user_to_group(GroupName=group, UserName=name)
        undo.append(lambda: iam.remove_user_from_group(GroupName=group, UserName=name))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        undo.append(lambda: iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"]))
        device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
        serial = device["SerialNumber"]
        undo.append(lambda: iam.delete_virtual_mfa_device(SerialNumber=serial))
        totp = pyotp.TOTP(_text(device["Base32StringSeed"]))
        step = int(clock()) // 30
        iam.enable_mfa_device(
            UserName=name,
            SerialNumber=serial,
            AuthenticationCode1=totp.at((step - 2) * 30),
            AuthenticationCode2=totp.at((step - 1) * 30),
        )
        undo.append(lambda: iam.deactivate_mfa_device(UserName=name, SerialNumber=serial))
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=root_trust(account))
        arn = role["Role"]["Arn"]
        undo.append(lambda: iam.delete_role(RoleName=name))  # ends any session it gave
        session = sts_for(key).get_session_token(SerialNumber=serial, TokenCode=totp.at(step * 30))
        as_session = sts_for(session["Credentials"])
        for mfa, sts in (("absent", sts_for(key)), ("yes", as_session)):
            outcomes.append(
                Outcome(Probe("sts:AssumeRole", arn, mfa, False, REASON), _try(sts, arn))
            )
    finally:
        _undo(undo)
    return outcomes


def _text(seed: Any) -> str:
    return seed.decode("ascii") if isinstance(seed, bytes) else str(seed)


def _try(sts: Any, role_arn: str) -> str:
    try:
        sts.assume_role(RoleArn=role_arn, RoleSessionName=PREFIX)
    except Exception as exc:
        if error_code(exc) != "AccessDenied":
            raise
        return "AccessDenied"
    return "allowed"


def _undo(steps: list[Callable[[], Any]]) -> None:
    """Every step, last first; what is gone already is fine; the first other error is raised
    once all were tried."""
    failed: Exception | None = None
    for step in reversed(steps):
        try:
            step()
        except Exception as exc:
            if not is_missing(exc) and failed is None:
                failed = exc
    if failed is not None:
        raise failed
