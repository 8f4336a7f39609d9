"""``selfiam offboard USER``: remove everything of a user, then the user, on any IAM endpoint
(AWS or selfiam), step by step as AWS requires. The logic is in `selfiam.tooling.offboard`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import click

from selfiam.cli.printable import echo, printable
from selfiam.tooling.endpoint import aws_errors, connect, endpoint_options
from selfiam.tooling.offboard import Inventory, inventory, prove_gone, run

#: Test hook: pause (sleep) after this many steps, so a test can kill the process midway.
PAUSE_AFTER_ENV = "SELFIAM_OFFBOARD_PAUSE_AFTER"


def _pause_hook() -> Callable[[int], None] | None:
    value = os.environ.get(PAUSE_AFTER_ENV)
    if not value:
        return None
    limit = int(value)

    def after_step(number: int) -> None:
        if number == limit:
            echo(f"pausing after step {number} ({PAUSE_AFTER_ENV})")
            time.sleep(3600)

    return after_step


def role_sessions_note(inv: Inventory, on_aws: bool, revoking: bool) -> str:
    """What becomes of the role sessions the user already started. No IAM operation lists
    them: AWS keeps them until they expire; selfiam ends them with the user."""
    if not on_aws:
        return (
            "role sessions the user started: a selfiam server ends every one of them with "
            "DeleteUser (no API operation lists them; `selfiam user remove NAME --dry-run` "
            "on the server does); on other endpoints they last until they expire"
        )
    trusting = sum(step.action == "UpdateAssumeRolePolicy" for step in inv.steps)
    if not trusting:
        return "role sessions the user started: AWS lists none; they last until they expire"
    if revoking:
        return (
            f"role sessions: those of the {trusting} role(s) trusting the user are revoked "
            "above; sessions of roles reached otherwise last until they expire"
        )
    return (
        f"role sessions the user started last until they expire: {trusting} role(s) trust "
        "the user; --revoke-role-sessions revokes their sessions issued before now"
    )


@click.command("offboard")
@click.argument("user")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--revoke-role-sessions",
    is_flag=True,
    help="Revoke the sessions of every role that trusts the user (AWSRevokeOlderSessions: "
    "all sessions of those roles issued before now, other users' too).",
)
@endpoint_options
def offboard(
    user: str,
    dry_run: bool,
    yes: bool,
    revoke_role_sessions: bool,
    endpoint_url: str | None,
    profile: str | None,
    region: str | None,
) -> None:
    """Remove USER and everything that keeps IAM from deleting them.

    First takes USER out of every role trust policy that names them (a statement left
    with no principal is removed), so they cannot assume those roles again; with
    --revoke-role-sessions, each such role also gets AWS's AWSRevokeOlderSessions inline
    policy, which ends the sessions already started. Then lists, then removes, in AWS's
    order: access keys, signing certificates, SSH public keys,
    service-specific credentials, MFA devices (deactivated, then virtual ones deleted), the
    login profile, inline policies, attached managed policies, the permissions boundary and
    group memberships; then DeleteUser, and GetUser must answer NoSuchEntity.

    Safe to re-run after an interruption: what is already gone is skipped. This always
    takes AWS's step-by-step path, on AWS and on selfiam alike (selfiam's one-step removal,
    `selfiam user remove`, is not part of the AWS API).
    """
    endpoint = connect(endpoint_url, profile, region)
    with aws_errors():
        inv = inventory(endpoint.iam, user, revoke_role_sessions=revoke_role_sessions)
        if not inv.exists:
            echo(
                f"user {printable(user)} does not exist on {printable(endpoint.label)}: nothing to remove"
            )
            if not dry_run and not prove_gone(endpoint.iam, user):  # pragma: no cover - race
                raise click.ClickException(f"user {printable(user)} appeared meanwhile")
            return
        echo(f"to remove from {printable(endpoint.label)} ({len(inv.steps)} step(s)):")
        for step in inv.steps:
            echo(f"  {step.action}: {printable(step.what)}")
        for note in [*inv.notes, role_sessions_note(inv, endpoint.is_aws, revoke_role_sessions)]:
            echo(f"  note: {printable(note)}")
        if dry_run:
            echo("dry run: nothing removed")
            return
        if not yes:
            click.confirm(f"Remove all of this and delete user {printable(user)}?", abort=True)
        run(inv, lambda line: echo(printable(line)), _pause_hook())
        if not prove_gone(endpoint.iam, user):
            raise click.ClickException(f"GetUser still finds {printable(user)} after DeleteUser")
    echo(f"user {printable(user)} no longer exists (GetUser: NoSuchEntity)")
