"""``selfiam user``: admin work on users, as the account's root principal."""

from __future__ import annotations

from typing import Any

import click

from selfiam.cli.options import database_options, settings_from
from selfiam.cli.root import RootSession
from selfiam.service.passwords import temporary_password


@click.group()
def user() -> None:
    """Create and remove users."""


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
    created = session.call("CreateUser", **params)["User"]
    for group in groups:
        session.call("AddUserToGroup", GroupName=group, UserName=name)
    password = None
    if not no_password:
        password = temporary_password(session.runtime, session.account_id, created["UserName"])
        session.call(
            "CreateLoginProfile", UserName=name, Password=password, PasswordResetRequired=True
        )
    click.echo(f"created {created['Arn']} ({created['UserId']})")
    for group in groups:
        click.echo(f"  member of {group}")
    if password is not None:
        click.echo(f"  temporary password (shown once; must be changed at sign-in): {password}")
