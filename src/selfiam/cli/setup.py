"""``selfiam setup self-service``: the self-service policy, group and attachment on any IAM
endpoint (AWS or selfiam), idempotently. The logic is in `selfiam.tooling.setup`."""

from __future__ import annotations

import click

from selfiam.cli.printable import echo, printable
from selfiam.tooling.endpoint import aws_errors, connect, endpoint_options
from selfiam.tooling.setup import DEFAULT_GROUP, DEFAULT_POLICY_NAME, Result, setup_self_service


@click.group()
def setup() -> None:
    """Set up an account's IAM for selfiam's ways of working."""


@setup.command("self-service")
@click.option("--group", default=DEFAULT_GROUP, show_default=True, help="Group of the members.")
@click.option(
    "--policy-name",
    default=DEFAULT_POLICY_NAME,
    show_default=True,
    help="Customer managed policy attached to the group.",
)
@click.option(
    "--require-mfa/--no-require-mfa",
    default=True,
    show_default=True,
    help="Keep key, certificate and SSH-key management (and all but MFA set-up) behind MFA.",
)
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@endpoint_options
def self_service(
    group: str,
    policy_name: str,
    require_mfa: bool,
    dry_run: bool,
    endpoint_url: str | None,
    profile: str | None,
    region: str | None,
) -> None:
    """Create or update the self-service policy, the group and the attachment.

    The policy is selfiam's SelfServiceCredentials document (without its deny-without-MFA
    statement with --no-require-mfa). When the policy's default version differs, a new
    version becomes the default (the oldest non-default one is deleted first when IAM's five
    exist). A second run changes nothing and says so.
    """
    endpoint = connect(endpoint_url, profile, region)

    def report(result: Result) -> None:
        echo(printable(result.line(dry_run=dry_run)))

    with aws_errors():
        results = setup_self_service(
            endpoint.iam,
            endpoint.caller_arn(),
            group=group,
            policy_name=policy_name,
            require_mfa=require_mfa,
            dry_run=dry_run,
            report=report,
        )
    changes = sum(r.changed for r in results)
    if dry_run:
        echo(
            f"dry run on {printable(endpoint.label)}: {changes} change(s) would be made, none made"
        )
    elif changes:
        echo(f"{changes} change(s) made on {printable(endpoint.label)}")
    else:
        echo(f"nothing to change on {printable(endpoint.label)}: already set up")
