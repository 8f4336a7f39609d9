"""``selfiam access-report USER_OR_ROLE``: which services and actions an entity's policies
allow, and when each was last used (service last accessed, through the same IAM operations
the API serves: GenerateServiceLastAccessedDetails, then GetServiceLastAccessedDetails).

The report an administrator trims a policy with: what is allowed but never used is marked
``unused``; with ``--actions``, the IAM and STS actions one by one.
"""

from __future__ import annotations

import json
from typing import Any

import click

from selfiam.cli.options import database_options, settings_from
from selfiam.cli.printable import echo, printable
from selfiam.cli.root import RootSession

KINDS = ("user", "role", "group", "policy")


def _arn(session: RootSession, name: str, kind: str | None) -> str:
    """``name`` as an ARN: given as one, or the user (else the role) of that name."""
    if name.startswith("arn:"):
        return name
    if kind == "policy":
        return f"arn:aws:iam::{session.account_id}:policy/{name}"
    getters = {
        "user": ("GetUser", "UserName", "User"),
        "role": ("GetRole", "RoleName", "Role"),
        "group": ("GetGroup", "GroupName", "Group"),
    }
    for candidate in [kind] if kind else ["user", "role"]:
        operation, param, key = getters[str(candidate)]
        try:
            return str(session.call(operation, **{param: name})[key]["Arn"])
        except click.ClickException:
            continue
    raise click.ClickException(printable(f"NoSuchEntity: no user or role named {name}."))


def _all_services(session: RootSession, job_id: str) -> list[dict[str, Any]]:
    services: list[dict[str, Any]] = []
    params: dict[str, Any] = {"JobId": job_id, "MaxItems": 1000}
    while True:
        out = session.call("GetServiceLastAccessedDetails", **params)
        services += out["ServicesLastAccessed"]
        if not out.get("IsTruncated"):
            return services
        params["Marker"] = out["Marker"]


def _when(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    return f"{value:%Y-%m-%dT%H:%M:%SZ}" if value is not None else "unused"


@click.command("access-report")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    help="What NAME is (default: a user, else a role; or pass an ARN).",
)
@click.option("--actions", is_flag=True, help="Also each IAM and STS action (ACTION_LEVEL).")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@database_options
def access_report(
    name: str,
    kind: str | None,
    actions: bool,
    output: str,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """What NAME's policies allow, and when each service was last used."""
    session = RootSession.open(settings_from(data_dir, database_url))
    arn = _arn(session, name, kind)
    granularity = "ACTION_LEVEL" if actions else "SERVICE_LEVEL"
    job = session.call("GenerateServiceLastAccessedDetails", Arn=arn, Granularity=granularity)
    services = _all_services(session, job["JobId"])
    if output == "json":
        echo(json.dumps({"Arn": arn, "ServicesLastAccessed": services}, default=str, indent=2))
        return
    unused = [s for s in services if s.get("LastAuthenticated") is None]
    echo(f"{printable(arn)}: {len(services)} services allowed, {len(unused)} never used")
    for item in services:
        by = item.get("LastAuthenticatedEntity")
        who = (
            f" by {printable(by)} ({printable(item.get('LastAuthenticatedRegion'))})" if by else ""
        )
        echo(f"  {printable(item['ServiceNamespace']):<24} {_when(item, 'LastAuthenticated')}{who}")
        for action in item.get("TrackedActionsLastAccessed", []):
            echo(f"      {printable(action['ActionName']):<40} {_when(action, 'LastAccessedTime')}")
