"""``selfiam role``: admin work on roles, as the account's root principal (DESIGN rule 1).

Every command is IAM operations through the service layer, the same ones the API serves;
a role is created with its attachments, and deleted with its policies, in one transaction
(`RootSession.call_together`), so a refused step leaves the account as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from selfiam.api.model import (
    Constraints,
    member_path_name,
    service_spec,
    validation_summary,
    violation,
)
from selfiam.cli.options import database_options, settings_from
from selfiam.cli.printable import echo, printable, printable_lines
from selfiam.cli.root import RootSession
from selfiam.service.together import MAX_STEPS
from selfiam.tooling.offboard_roles import document

#: The statement ``--trust-user`` adds: those users may assume the role (and tag the session).
TRUST_SID = "TrustedUsers"


def _validated(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` checked against the operation's model (lengths, patterns, ranges), as the
    API checks a request; a bad one is AWS's ValidationError, before anything is written."""
    model = service_spec("iam").operation(operation)
    assert model is not None and model.input_shape is not None
    errors = []
    for name, shape in model.input_shape.members.items():
        if name in params:
            constraints = Constraints(shape)
            for text in constraints.violations(params[name]):
                path = member_path_name(name)
                errors.append(violation(path, params[name], constraints.sensitive, text))
    if errors:
        raise click.ClickException(printable(f"ValidationError: {validation_summary(errors)}"))
    return params


def _paged(session: RootSession, operation: str, key: str, **params: Any) -> list[Any]:
    """Every page of a Marker-paged list operation."""
    items: list[Any] = []
    while True:
        out = session.call(operation, **params)
        items += out.get(key, [])
        if not out.get("IsTruncated"):
            return items
        params["Marker"] = out["Marker"]


def trust_document(user_arns: list[str], trust_file: Path | None) -> str:
    """The file's trust policy (if any), plus one statement admitting ``user_arns``."""
    if trust_file is not None:
        text = trust_file.read_text(encoding="utf-8")
        if not user_arns:
            return text
        try:
            doc = json.loads(text)
            statements = doc.setdefault("Statement", [])
        except (ValueError, AttributeError):
            statements = None
        if isinstance(statements, dict):
            doc["Statement"] = statements = [statements]
        if not isinstance(statements, list):
            # Let CreateRole answer MalformedPolicyDocument for it, as for the file alone.
            return text
    else:
        doc = {"Version": "2012-10-17", "Statement": []}
        statements = doc["Statement"]
    if user_arns:
        statements.append(
            {
                "Sid": TRUST_SID,
                "Effect": "Allow",
                "Principal": {"AWS": user_arns[0] if len(user_arns) == 1 else user_arns},
                "Action": "sts:AssumeRole",
            }
        )
    return json.dumps(doc, indent=2)


@click.group()
def role() -> None:
    """Create, list, show and delete roles."""


@role.command("create")
@click.argument("name")
@click.option(
    "--trust-user",
    "trust_users",
    multiple=True,
    help="A user who may assume the role (repeatable).",
)
@click.option(
    "--trust-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A trust policy document (JSON); --trust-user adds a statement to it.",
)
@click.option(
    "--policy-arn", "policy_arns", multiple=True, help="Attach this managed policy (repeatable)."
)
@click.option(
    "--max-session-duration",
    type=int,
    default=None,
    help="Longest AssumeRole session, in seconds (3600 to 43200; default 3600).",
)
@click.option("--path", default=None, help="IAM path, e.g. /ci/.")
@click.option("--description", default=None, help="What the role is for.")
@database_options
def create(
    name: str,
    trust_users: tuple[str, ...],
    trust_file: Path | None,
    policy_arns: tuple[str, ...],
    max_session_duration: int | None,
    path: str | None,
    description: str | None,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Create role NAME that the --trust-user users (or the --trust-file policy) may assume,
    with its managed policies attached: all in one transaction, or nothing."""
    if not trust_users and trust_file is None:
        raise click.UsageError("give --trust-user USER or --trust-file FILE: who may assume it")
    session = RootSession.open(settings_from(data_dir, database_url))
    arns = [session.call("GetUser", UserName=user)["User"]["Arn"] for user in trust_users]
    params: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": trust_document(arns, trust_file),
    }
    for key, value in (
        ("Path", path),
        ("Description", description),
        ("MaxSessionDuration", max_session_duration),
    ):
        if value is not None:
            params[key] = value
    steps: list[tuple[str, dict[str, Any]]] = [("CreateRole", _validated("CreateRole", params))]
    for arn in policy_arns:
        attach = {"RoleName": name, "PolicyArn": arn}
        steps.append(("AttachRolePolicy", _validated("AttachRolePolicy", attach)))
    if len(steps) > MAX_STEPS:
        raise click.UsageError(f"at most {MAX_STEPS - 1} --policy-arn in one create")
    created = session.call_together(*steps)[0]["Role"]
    echo(f"created {printable(created['Arn'])} ({printable(created['RoleId'])})")
    for arn in arns:
        echo(f"  trusts {printable(arn)}")
    for arn in policy_arns:
        echo(f"  attached {printable(arn)}")
    echo(f"  max session duration {created['MaxSessionDuration']} s")


@role.command("list")
@click.option("--path-prefix", default=None, help="Only roles under this path.")
@database_options
def list_roles(path_prefix: str | None, data_dir: str | None, database_url: str | None) -> None:
    """List the account's roles: name, ARN, creation time, longest session."""
    session = RootSession.open(settings_from(data_dir, database_url))
    params = {"PathPrefix": path_prefix} if path_prefix else {}
    roles = _paged(session, "ListRoles", "Roles", **_validated("ListRoles", params))
    if not roles:
        echo("no roles")
    for found in roles:
        echo(
            f"{printable(found['RoleName'])}  {printable(found['Arn'])}  "
            f"created {found['CreateDate']:%Y-%m-%d %H:%M} UTC  "
            f"max session {found['MaxSessionDuration']} s"
        )


@role.command("show")
@click.argument("name")
@database_options
def show(name: str, data_dir: str | None, database_url: str | None) -> None:
    """Show role NAME: its trust policy, policies, boundary, tags and last use."""
    session = RootSession.open(settings_from(data_dir, database_url))
    found = session.call("GetRole", **_validated("GetRole", {"RoleName": name}))["Role"]
    inline = _paged(session, "ListRolePolicies", "PolicyNames", RoleName=found["RoleName"])
    attached = _paged(
        session, "ListAttachedRolePolicies", "AttachedPolicies", RoleName=found["RoleName"]
    )
    echo(f"{printable(found['Arn'])} ({printable(found['RoleId'])})")
    echo(f"  created {found['CreateDate']:%Y-%m-%d %H:%M:%S} UTC")
    if found.get("Description"):
        echo(f"  description: {printable(found['Description'])}")
    echo(f"  max session duration: {found['MaxSessionDuration']} s")
    boundary = (found.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    echo(f"  permissions boundary: {printable(boundary or 'none')}")
    last = found.get("RoleLastUsed") or {}
    used = f"{last['LastUsedDate']:%Y-%m-%d %H:%M:%S} UTC" if last.get("LastUsedDate") else "never"
    echo(f"  last used: {used}")
    echo("  attached policies:" + ("" if attached else " none"))
    for policy in attached:
        echo(f"    {printable(policy['PolicyArn'])}")
    echo("  inline policies:" + ("" if inline else " none"))
    for policy_name in inline:
        echo(f"    {printable(policy_name)}")
    for tag in found.get("Tags", []):
        echo(f"  tag {printable(tag['Key'])}={printable(tag['Value'])}")
    echo("  trust policy:")
    text = json.dumps(document(found["AssumeRolePolicyDocument"]), indent=2)
    echo("\n".join(f"    {line}" for line in printable_lines(text).split("\n")))


@role.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@database_options
def delete(name: str, yes: bool, data_dir: str | None, database_url: str | None) -> None:
    """Delete role NAME: its inline policies deleted and its managed policies detached
    first, then the role, in one transaction. Its sessions stop working at once."""
    session = RootSession.open(settings_from(data_dir, database_url))
    found = session.call("GetRole", **_validated("GetRole", {"RoleName": name}))["Role"]
    role_name = found["RoleName"]
    inline = _paged(session, "ListRolePolicies", "PolicyNames", RoleName=role_name)
    attached = _paged(session, "ListAttachedRolePolicies", "AttachedPolicies", RoleName=role_name)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("DeleteRolePolicy", {"RoleName": role_name, "PolicyName": p}) for p in inline
    ]
    steps += [
        ("DetachRolePolicy", {"RoleName": role_name, "PolicyArn": a["PolicyArn"]}) for a in attached
    ]
    steps.append(("DeleteRole", {"RoleName": role_name}))
    echo(f"deleting {printable(found['Arn'])}:")
    for operation, params in steps[:-1]:
        what = params.get("PolicyName") or params.get("PolicyArn")
        echo(f"  {operation}: {printable(what)}")
    echo("  DeleteRole (its sessions end)")
    if not yes:
        click.confirm(f"Delete role {printable(role_name)}?", abort=True)
    if len(steps) <= MAX_STEPS:
        session.call_together(*steps)
    else:
        # More policies than one transaction takes: one call each, the role last, so a
        # failure leaves the role (with fewer policies) and a re-run finishes the work.
        echo(f"  ({len(steps)} steps: more than {MAX_STEPS}, so one call at a time)")
        for operation, params in steps:
            session.call(operation, **params)
    echo(f"deleted {printable(found['Arn'])}")
