"""``selfiam user``: admin work on users, as the account's root principal."""

from __future__ import annotations

from typing import Any

import click

from selfiam.cli.options import database_options, settings_from
from selfiam.cli.printable import echo, printable
from selfiam.cli.root import RootSession
from selfiam.cli.user_import import import_users
from selfiam.domain.errors import AwsError
from selfiam.domain.identifiers import new_request_id
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.offboarding import OffboardingPlan, offboard_user, plan_offboarding
from selfiam.service.passwords import temporary_password


@click.group()
def user() -> None:
    """Create, import and remove users."""


user.add_command(import_users)


@user.command("create")
@click.argument("name")
@click.option("--group", "groups", multiple=True, help="Add the user to this group (repeatable).")
@click.option("--path", default=None, help="IAM path, e.g. /engineering/.")
@click.option(
    "--no-password",
    is_flag=True,
    help="Do not create a console password (no login profile; API access only).",
)
@database_options
def create(
    name: str,
    groups: tuple[str, ...],
    path: str | None,
    no_password: bool,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Create user NAME (and put them in groups) with a one-time console password.

    The password is generated to meet the account's password policy, must be
    changed at the first sign-in, and is printed once.
    """
    session = RootSession.open(settings_from(data_dir, database_url))
    params: dict[str, Any] = {"UserName": name}
    if path:
        params["Path"] = path
    steps: list[tuple[str, dict[str, Any]]] = [("CreateUser", params)]
    steps += [("AddUserToGroup", {"GroupName": g, "UserName": name}) for g in groups]
    password = None
    if not no_password:
        password = temporary_password(session.runtime, session.account_id, name)
        login = {"UserName": name, "Password": password, "PasswordResetRequired": True}
        steps.append(("CreateLoginProfile", login))
    # One transaction: an unknown group or a refused password leaves no user behind.
    created = session.call_together(*steps)[0]["User"]
    echo(f"created {printable(created['Arn'])} ({printable(created['UserId'])})")
    for group in groups:
        echo(f"  member of {printable(group)}")
    if password is not None:
        echo(f"  temporary password (shown once; must be changed at sign-in): {password}")


@user.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@database_options
def remove(
    name: str, yes: bool, dry_run: bool, data_dir: str | None, database_url: str | None
) -> None:
    """Offboard user NAME in one step: every credential, policy, membership and
    session of theirs, and the user, removed in one transaction (selfiam:OffboardUser).

    Their access keys, temporary credentials and portal sessions stop working at once.
    """
    session = RootSession.open(settings_from(data_dir, database_url))
    root = Caller.root(session.account_id)
    try:
        plan = plan_offboarding(session.runtime, root, name, _request(session))
        _print_plan(plan)
        if dry_run:
            echo("dry run: nothing removed.")
            return
        if not yes:
            click.confirm(f"Remove {printable(plan.user_name)} and all of the above?", abort=True)
        report = offboard_user(session.runtime, root, plan.user_name, _request(session))
    except AwsError as err:
        raise click.ClickException(printable(f"{err.code}: {err.explanation}")) from None
    finally:
        session.runtime.audit.flush()
    echo(
        f"removed {printable(report.plan.user_arn)} at {report.removed_at:%Y-%m-%d %H:%M:%S} UTC "
        f"(request {report.request_id}); their keys and sessions no longer work."
    )


def _request(session: RootSession) -> RequestInfo:
    return RequestInfo(
        request_id=new_request_id(),
        now=session.runtime.clock(),
        source_ip="local",
        user_agent="selfiam-cli",
        service="selfiam",
    )


def _print_plan(plan: OffboardingPlan) -> None:
    echo(f"offboarding {printable(plan.user_arn)} ({printable(plan.user_id)}) removes:")
    for title, lines in plan.sections():
        echo(f"  {title}:")
        for line in lines:
            echo(f"    {printable(line)}")
    echo("  the user itself")
