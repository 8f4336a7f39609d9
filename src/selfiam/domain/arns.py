"""Build and parse IAM and STS ARNs, with IAM's path rules.

An IAM ARN embeds the entity's path between its type and its name:
a user ``Bob`` with path ``/division/eng/`` is
``arn:aws:iam::123456789012:user/division/eng/Bob``; with the default path
``/`` it is ``arn:aws:iam::123456789012:user/Bob``. AWS managed policies live
in the account ``aws``: ``arn:aws:iam::aws:policy/AdministratorAccess``.

Parsing errors raise :class:`ArnError` (a ``ValueError``); the service layer
turns it into the AWS error that fits the operation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITION = "aws"
AWS_ACCOUNT = "aws"
DEFAULT_PATH = "/"
MAX_PATH_LENGTH = 512

# botocore's pathType: "/" or "/" + printable ASCII (no space) + "/".
_PATH_RE = re.compile(r"\A(?:/|/[\x21-\x7e]+/)\Z")

#: IAM resource types whose ARN carries a path before the name.
PATHED_TYPES = frozenset(
    {"user", "group", "role", "policy", "mfa", "instance-profile", "server-certificate"}
)


class ArnError(ValueError):
    """The text is not an ARN of the expected form."""


def is_valid_path(path: str) -> bool:
    """True if ``path`` is an IAM path: ``/`` or ``/a/b/`` (at most 512 chars)."""
    return len(path) <= MAX_PATH_LENGTH and bool(_PATH_RE.match(path))


def normalize_path(path: str | None) -> str:
    """The path to store: ``None`` or empty means the default ``/``.

    Raises :class:`ArnError` if the path does not begin and end with ``/``.
    """
    if not path:
        return DEFAULT_PATH
    if not is_valid_path(path):
        raise ArnError(f"invalid IAM path {path!r}: it must begin and end with '/'")
    return path


def path_matches_prefix(path: str, prefix: str | None) -> bool:
    """IAM's ``PathPrefix`` filter (ListUsers etc.): a plain string prefix."""
    return not prefix or path.startswith(prefix)


@dataclass(frozen=True, slots=True)
class Arn:
    """The six parts of any ARN; ``resource`` is everything after the account."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


@dataclass(frozen=True, slots=True)
class IamArn:
    """An IAM (or STS principal) ARN split into its meaning.

    ``resource_type`` is ``user``, ``group``, ``role``, ``policy``, ``mfa``, …,
    ``root``, ``assumed-role`` or ``federated-user``. For ``assumed-role``,
    ``name`` is the role name and ``session_name`` the session's.
    """

    service: str
    account: str
    resource_type: str
    path: str
    name: str
    session_name: str | None = None
    partition: str = PARTITION

    def __str__(self) -> str:
        if self.resource_type == "root":
            return root_arn(self.account, partition=self.partition)
        if self.resource_type == "assumed-role":
            return assumed_role_arn(
                self.account, self.name, self.session_name or "", partition=self.partition
            )
        if self.resource_type == "federated-user":
            return federated_user_arn(self.account, self.name, partition=self.partition)
        return iam_arn(
            self.account, self.resource_type, self.name, self.path, partition=self.partition
        )


def parse_arn(text: str) -> Arn:
    """Split any ARN into its parts; raise :class:`ArnError` if it is not one."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        raise ArnError(f"not an ARN: {text!r}")
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def iam_arn(
    account: str,
    resource_type: str,
    name: str,
    path: str = DEFAULT_PATH,
    *,
    partition: str = PARTITION,
) -> str:
    """``arn:aws:iam::ACCOUNT:TYPE/PATH/NAME`` with the path rules of IAM."""
    path = normalize_path(path)
    if not name:
        raise ArnError("an IAM ARN needs a name")
    return f"arn:{partition}:iam::{account}:{resource_type}{path}{name}"


def user_arn(account: str, name: str, path: str = DEFAULT_PATH) -> str:
    return iam_arn(account, "user", name, path)


def group_arn(account: str, name: str, path: str = DEFAULT_PATH) -> str:
    return iam_arn(account, "group", name, path)


def role_arn(account: str, name: str, path: str = DEFAULT_PATH) -> str:
    return iam_arn(account, "role", name, path)


def instance_profile_arn(account: str, name: str, path: str = DEFAULT_PATH) -> str:
    return iam_arn(account, "instance-profile", name, path)


def server_certificate_arn(account: str, name: str, path: str = DEFAULT_PATH) -> str:
    return iam_arn(account, "server-certificate", name, path)


def policy_arn(account: str, name: str, path: str = DEFAULT_PATH) -> str:
    """A managed policy's ARN; ``account="aws"`` for AWS managed policies."""
    return iam_arn(account, "policy", name, path)


def aws_managed_policy_arn(name: str, path: str = DEFAULT_PATH) -> str:
    return iam_arn(AWS_ACCOUNT, "policy", name, path)


def mfa_arn(account: str, name: str, path: str = DEFAULT_PATH) -> str:
    """A virtual MFA device's ARN, which is also its serial number."""
    return iam_arn(account, "mfa", name, path)


def root_arn(account: str, *, partition: str = PARTITION) -> str:
    return f"arn:{partition}:iam::{account}:root"


def assumed_role_arn(
    account: str, role_name: str, session_name: str, *, partition: str = PARTITION
) -> str:
    """An assumed-role session's ARN. The role's path is not part of it (as in AWS)."""
    return f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{session_name}"


def federated_user_arn(account: str, name: str, *, partition: str = PARTITION) -> str:
    return f"arn:{partition}:sts::{account}:federated-user/{name}"


def arn_account(text: str) -> str | None:
    """The account an IAM ARN names, or None if ``text`` is none."""
    try:
        return parse_iam_arn(text).account
    except ArnError:
        return None


def parse_iam_arn(text: str) -> IamArn:
    """Parse an IAM entity ARN or an STS principal ARN into an :class:`IamArn`.

    Raises :class:`ArnError` for any other ARN or a malformed one.
    """
    arn = parse_arn(text)
    if arn.region:
        raise ArnError(f"IAM and STS ARNs have no region: {text!r}")
    if not arn.account:
        raise ArnError(f"ARN has no account: {text!r}")
    if arn.service == "iam":
        if arn.resource == "root":
            return IamArn("iam", arn.account, "root", DEFAULT_PATH, "", partition=arn.partition)
        resource_type, slash, rest = arn.resource.partition("/")
        if not slash or resource_type not in PATHED_TYPES:
            raise ArnError(f"not an IAM entity ARN: {text!r}")
        path_body, _, name = rest.rpartition("/")
        if not name:
            raise ArnError(f"IAM ARN has no name: {text!r}")
        path = f"/{path_body}/" if path_body else DEFAULT_PATH
        if not is_valid_path(path):
            raise ArnError(f"invalid path in ARN: {text!r}")
        return IamArn("iam", arn.account, resource_type, path, name, partition=arn.partition)
    if arn.service == "sts":
        resource_type, _, rest = arn.resource.partition("/")
        if resource_type == "assumed-role":
            role, slash, session = rest.partition("/")
            if not role or not slash or not session or "/" in session:
                raise ArnError(f"malformed assumed-role ARN: {text!r}")
            return IamArn(
                "sts",
                arn.account,
                "assumed-role",
                DEFAULT_PATH,
                role,
                session,
                partition=arn.partition,
            )
        if resource_type == "federated-user" and rest and "/" not in rest:
            return IamArn(
                "sts", arn.account, "federated-user", DEFAULT_PATH, rest, partition=arn.partition
            )
        raise ArnError(f"not an STS principal ARN: {text!r}")
    raise ArnError(f"not an IAM or STS ARN: {text!r}")
