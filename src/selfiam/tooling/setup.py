"""``selfiam setup self-service``: the self-service policy, group and attachment, idempotently.

Against any IAM endpoint through a boto3 client. Each of the three things is compared with
what is wanted and changed only when it differs:

* the customer managed policy: its default version's document is compared with the desired
  one as parsed JSON (key order and whitespace do not matter); when they differ a new
  version is created and made the default, after deleting the oldest non-default version
  when the policy already has IAM's maximum of five;
* the group: created when missing;
* the attachment of the policy to the group: made when missing.

The desired document is the checked-in ``SelfServiceCredentials`` policy; its variant
without MFA (``require_mfa=False``) is derived from it here, by dropping the one statement
that denies everything but MFA set-up without MFA, so there is no second copy to drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import unquote

from selfiam.tooling.endpoint import is_missing

POLICY_RESOURCE = "self_service_credentials.json"
#: The statement of the checked-in policy that puts everything but MFA set-up behind MFA.
MFA_STATEMENT_SID = "DenyAllExceptListedIfNoMFA"
#: IAM keeps at most five versions of a managed policy.
MAX_POLICY_VERSIONS = 5
DEFAULT_GROUP = "SelfService"
DEFAULT_POLICY_NAME = "SelfServiceCredentials"
DESCRIPTION = (
    "Self-service: each member manages their own password, MFA device, access keys, "
    "signing certificates and SSH keys, and nothing of anyone else's (set up by selfiam)"
)


def self_service_policy(*, require_mfa: bool = True) -> dict[str, Any]:
    """The desired policy document; without ``require_mfa``, minus the MFA deny statement."""
    text = resources.files("selfiam.domain").joinpath("policies", POLICY_RESOURCE).read_text()
    document: dict[str, Any] = json.loads(text)
    if not require_mfa:
        statements = document["Statement"]
        kept = [s for s in statements if s.get("Sid") != MFA_STATEMENT_SID]
        if len(kept) != len(statements) - 1:
            raise RuntimeError(f"{POLICY_RESOURCE} has no statement {MFA_STATEMENT_SID}")
        document["Statement"] = kept
    return document


def parse_document(document: str | Mapping[str, Any]) -> Any:
    """A policy document as parsed JSON. boto3 decodes IAM's documents into dicts; a client
    that does not hands back the URL-encoded text IAM sends, which is decoded here."""
    if not isinstance(document, str):
        return document
    try:
        return json.loads(document)
    except json.JSONDecodeError:
        return json.loads(unquote(document))


def documents_equal(a: str | Mapping[str, Any], b: str | Mapping[str, Any]) -> bool:
    return bool(parse_document(a) == parse_document(b))


def _version_number(version_id: str) -> int:
    digits = version_id.lstrip("vV")
    return int(digits) if digits.isdigit() else 0


def version_to_prune(versions: Sequence[Mapping[str, Any]]) -> str | None:
    """The version to delete before creating another: the oldest non-default one, when the
    policy already has the maximum; None while there is room."""
    if len(versions) < MAX_POLICY_VERSIONS:
        return None
    candidates = [v for v in versions if not v.get("IsDefaultVersion")]
    if not candidates:
        return None

    def age(version: Mapping[str, Any]) -> tuple[datetime | str, int]:
        number = _version_number(str(version["VersionId"]))
        created = version.get("CreateDate")
        return (created if isinstance(created, datetime) else str(created or "")), number

    return str(min(candidates, key=age)["VersionId"])


@dataclass(frozen=True, slots=True)
class Result:
    """One line of the report: what was (or, in a dry run, would be) done to a subject."""

    verb: str  # "create", "update", "attach" or "unchanged"
    subject: str
    detail: str = ""

    @property
    def changed(self) -> bool:
        return self.verb != "unchanged"

    def line(self, *, dry_run: bool) -> str:
        if not self.changed:
            head = "unchanged"
        elif dry_run:
            head = f"would {self.verb}"
        else:
            head = {"create": "created", "update": "updated", "attach": "attached"}[self.verb]
        return f"{head}: {self.subject}" + (f" ({self.detail})" if self.detail else "")


def _policy_arn(caller_arn: str, name: str) -> str:
    partition, account = caller_arn.split(":")[1], caller_arn.split(":")[4]
    return f"arn:{partition}:iam::{account}:policy/{name}"


def find_policy(iam: Any, caller_arn: str, name: str) -> dict[str, Any] | None:
    """The customer managed policy called ``name``: at the root path first (one call), then
    at any path (policy names are unique in an account whatever their path)."""
    try:
        found: dict[str, Any] = iam.get_policy(PolicyArn=_policy_arn(caller_arn, name))["Policy"]
        return found
    except Exception as exc:
        if not is_missing(exc):
            raise
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for policy in page["Policies"]:
            if str(policy["PolicyName"]).lower() == name.lower():
                return dict(policy)
    return None


def ensure_policy(
    iam: Any, caller_arn: str, name: str, desired: Mapping[str, Any], *, dry_run: bool
) -> tuple[Result, str]:
    """The policy with ``desired`` as its default version; also returns its ARN."""
    policy = find_policy(iam, caller_arn, name)
    text = json.dumps(desired, indent=2)
    if policy is None:
        arn = _policy_arn(caller_arn, name)
        if not dry_run:
            created = iam.create_policy(
                PolicyName=name, PolicyDocument=text, Description=DESCRIPTION
            )
            arn = created["Policy"]["Arn"]
        return Result("create", f"policy {arn}"), arn
    arn = str(policy["Arn"])
    default = str(policy["DefaultVersionId"])
    current = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]
    if documents_equal(current["Document"], desired):
        return Result("unchanged", f"policy {arn}", f"default version {default} is current"), arn
    prune = version_to_prune(iam.list_policy_versions(PolicyArn=arn)["Versions"])
    new_version = "new"
    if not dry_run:
        if prune is not None:
            iam.delete_policy_version(PolicyArn=arn, VersionId=prune)
        version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
        new_version = version["PolicyVersion"]["VersionId"]
    detail = f"document differs from version {default}: {new_version} default version"
    if prune is not None:
        detail += f"; oldest version {prune} deleted first (IAM keeps {MAX_POLICY_VERSIONS})"
    return Result("update", f"policy {arn}", detail), arn


def ensure_group(iam: Any, group: str, *, dry_run: bool) -> tuple[Result, bool]:
    """The group; also returns whether it exists now (not in a dry run that would create it)."""
    try:
        iam.get_group(GroupName=group, MaxItems=1)
        return Result("unchanged", f"group {group}", "exists"), True
    except Exception as exc:
        if not is_missing(exc):
            raise
    if dry_run:
        return Result("create", f"group {group}"), False
    iam.create_group(GroupName=group)
    return Result("create", f"group {group}"), True


def ensure_attachment(
    iam: Any, group: str, policy_arn: str, *, group_exists: bool, dry_run: bool
) -> Result:
    subject = f"policy {policy_arn} attached to group {group}"
    if group_exists:
        pages = iam.get_paginator("list_attached_group_policies").paginate(GroupName=group)
        for page in pages:
            if any(a["PolicyArn"] == policy_arn for a in page["AttachedPolicies"]):
                return Result("unchanged", subject)
    if not dry_run:
        iam.attach_group_policy(GroupName=group, PolicyArn=policy_arn)
    return Result("attach", subject)


def setup_self_service(
    iam: Any,
    caller_arn: str,
    *,
    group: str = DEFAULT_GROUP,
    policy_name: str = DEFAULT_POLICY_NAME,
    require_mfa: bool = True,
    dry_run: bool = False,
    report: Callable[[Result], None] = lambda _: None,
) -> list[Result]:
    """Bring the policy, the group and the attachment to the desired state, reporting each
    as it is settled. ``caller_arn`` (STS GetCallerIdentity) gives the account and partition
    of the policy's ARN."""
    results: list[Result] = []

    def settle(result: Result) -> None:
        results.append(result)
        report(result)

    desired = self_service_policy(require_mfa=require_mfa)
    policy_result, arn = ensure_policy(iam, caller_arn, policy_name, desired, dry_run=dry_run)
    settle(policy_result)
    group_result, group_exists = ensure_group(iam, group, dry_run=dry_run)
    settle(group_result)
    settle(ensure_attachment(iam, group, arn, group_exists=group_exists, dry_run=dry_run))
    return results
