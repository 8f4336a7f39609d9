"""``selfiam verify self-service``: simulate a member's requests and check every answer.

Against any IAM endpoint through boto3 (a real AWS account with the standard credential
chain, ``--profile`` and ``--region``, or a selfiam server with ``--endpoint-url``):

* ``--user NAME``: SimulatePrincipalPolicy on the user (their own, group and boundary policies);
* ``--group NAME`` (the default, ``SelfService``): the group's attached and inline documents
  are fetched and run through SimulateCustomPolicy for a probe member;
* ``--policy FILE``: SimulateCustomPolicy on the file, or with ``--local`` selfiam's own engine,
  no endpoint at all (``--local`` needs ``--policy``: it has no stored policies to read).

Prints a table and exits 1 when any answer differs from the expected one. The battery and
the reasons behind it are in `selfiam.tooling.verify`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from selfiam.cli.printable import echo, markup_safe, printable
from selfiam.tooling.endpoint import Endpoint, aws_errors, clients, connect, is_aws_url
from selfiam.tooling.verify import (
    DEFAULT_MEMBER,
    CustomPolicySimulator,
    LocalSimulator,
    Outcome,
    PrincipalSimulator,
    Simulator,
    Target,
    battery,
    group_policies,
    mismatches,
    run_battery,
)
from selfiam.tooling.verify_live import assume_role_probe


@click.group()
def verify() -> None:
    """Check by simulation that policies do what they are meant to."""


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def _render(outcomes: list[Outcome], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    # Cells hold Text objects: a name or an endpoint's answer is shown as it is, never
    # read as rich markup or passed to the terminal as an escape sequence.
    table = Table(title=markup_safe(title))
    for column in ("action", "resource", "MFA", "expected", "actual", "ok"):
        table.add_column(column, no_wrap=column != "resource")
    for outcome in outcomes:
        probe = outcome.probe
        table.add_row(
            markup_safe(probe.action),
            markup_safe(probe.resource),
            markup_safe(probe.mfa),
            markup_safe(probe.expected),
            markup_safe(outcome.decision),
            "ok" if outcome.ok else "[bold red]MISMATCH[/]",
        )
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(table)


def _sts_as(endpoint: Endpoint) -> Callable[[dict[str, Any]], Any]:
    """An STS client of the endpoint signing with given credentials (an access key, or
    temporary ones with their session token)."""

    def client(key: dict[str, Any]) -> Any:
        return endpoint.sts_as(key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken"))

    return client


@verify.command("self-service")
@click.option("--group", default=None, help="Verify this group's policies (default SelfService).")
@click.option("--user", default=None, help="Verify this user's effective policies.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Verify this policy document.",
)
@click.option("--local", is_flag=True, help="Use selfiam's engine, no endpoint (with --policy).")
@click.option("--endpoint-url", default=None, help="IAM endpoint, e.g. a selfiam server.")
@click.option("--profile", default=None, help="AWS profile of the credentials to use.")
@click.option("--region", default=None, help="AWS region of the client.")
@click.option(
    "--live",
    is_flag=True,
    help="Also make real requests (a selfiam endpoint and --group only): a throwaway member "
    "of the group calls AssumeRole on a throwaway role trusting the account root, with "
    "their key and with an MFA session; both must be AccessDenied. Everything is deleted "
    "afterwards.",
)
@click.option(
    "--require-mfa/--no-require-mfa",
    default=True,
    show_default=True,
    help="Key, certificate and SSH-key management must be denied without MFA.",
)
def self_service(
    group: str | None,
    user: str | None,
    policy_file: Path | None,
    local: bool,
    endpoint_url: str | None,
    profile: str | None,
    region: str | None,
    live: bool,
    require_mfa: bool,
) -> None:
    """Simulate a self-service member's requests; exit 1 on any unexpected answer.

    Their own credentials must be manageable (key, certificate and SSH-key management only
    with MFA unless --no-require-mfa), another user's never, and no privilege-escalation
    path may be open.
    """
    if sum(x is not None for x in (group, user, policy_file)) > 1:
        raise click.UsageError("give one of --group, --user and --policy")
    if local and policy_file is None:
        raise click.UsageError(
            "--local evaluates a policy document with selfiam's own engine: use it with "
            "--policy FILE (for --user or --group, leave out --local and the endpoint is asked)"
        )
    if live and (local or is_aws_url(endpoint_url) or user is not None or policy_file is not None):
        raise click.UsageError(
            "--live makes real requests to a selfiam server: give --endpoint-url and "
            "verify a group (--group, or the default SelfService)"
        )
    simulator: Simulator
    if policy_file is not None:
        text = policy_file.read_text(encoding="utf-8")
        if local:
            target = Target(DEFAULT_MEMBER)
            simulator = LocalSimulator([text])
            where = "selfiam's local engine"
        else:
            iam, sts = clients(endpoint_url, profile, region)
            with aws_errors():
                account = sts.get_caller_identity()["Account"]
            target = Target(DEFAULT_MEMBER, account)
            simulator = CustomPolicySimulator(iam, [text])
            where = endpoint_url or "AWS"
        subject = f"policy {policy_file}"
    elif user is not None:
        iam, _ = clients(endpoint_url, profile, region)
        with aws_errors():
            arn = iam.get_user(UserName=user)["User"]["Arn"]
        target = Target(user, _account_of(arn), member_arn=arn)
        simulator = PrincipalSimulator(iam, arn)
        subject, where = f"user {user}", endpoint_url or "AWS"
    else:
        name = group or "SelfService"
        endpoint = connect(endpoint_url, profile, region)
        iam = endpoint.iam
        with aws_errors():
            arn = iam.get_group(GroupName=name, MaxItems=1)["Group"]["Arn"]
            documents, policy_arns = group_policies(iam, name)
        if not documents:
            raise click.ClickException(
                f"group {printable(name)} has no policies: every request is denied"
            )
        target = Target(
            DEFAULT_MEMBER,
            _account_of(arn),
            group=name,
            policy_arn=policy_arns[0] if policy_arns else None,
        )
        simulator = CustomPolicySimulator(iam, documents)
        subject, where = f"group {name}", endpoint_url or "AWS"

    probes = battery(target, require_mfa=require_mfa)
    with aws_errors():
        try:
            outcomes = run_battery(probes, simulator, target.member)
        except Exception as exc:
            from selfiam.cli.policy import error_of
            from selfiam.domain.errors import AwsError
            from selfiam.policy import MalformedPolicyError

            if not isinstance(exc, AwsError | MalformedPolicyError):
                raise
            code, message = error_of(exc)
            raise click.ClickException(printable(f"{code}: {message}")) from None
    if live:
        with aws_errors():
            outcomes.extend(assume_role_probe(iam, _sts_as(endpoint), target.group, target.account))
    _render(outcomes, f"self-service of {subject} for {target.member}, via {where}")
    wrong = mismatches(outcomes)
    echo(f"{len(outcomes)} checks, {len(wrong)} mismatch(es)")
    sys.exit(1 if wrong else 0)
