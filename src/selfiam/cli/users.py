"""``selfiam user``: admin work on users, as the account's root principal."""

from __future__ import annotations

from typing import Any

import click

from selfiam.cli.options import database_options, settings_from
from selfiam.cli.root import RootSession


@click.group()
def user() -> None:
    """Create and remove users."""


@user.command("create")
@click.argument("name")
@click.option("--group", "groups", multiple=True, help="Add the user to this group (repeatable).")
@click.option("--path", default=None, help="IAM path, e.g. /engineering/.")
@database_options
def create(
    name: str,
    groups: tuple[str, ...],
    path: str | None,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Create user NAME (and put them in groups)."""
    session = RootSession.open(settings_from(data_dir, database_url))
    params: dict[str, Any] = {"UserName": name}
    if path:
        params["Path"] = path
    created = session.call("CreateUser", **params)["User"]
    for group in groups:
        session.call("AddUserToGroup", GroupName=group, UserName=name)
    click.echo(f"created {created['Arn']} ({created['UserId']})")
    for group in groups:
        click.echo(f"  member of {group}")
