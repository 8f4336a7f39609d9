"""``selfiam sign-in``: the account's portal sign-in settings (passwordless passkeys)."""

from __future__ import annotations

import click

from selfiam.cli.options import database_options, settings_from
from selfiam.cli.root import RootSession

SERVICE = "selfiam"


@click.command("sign-in")
@click.option(
    "--passwordless",
    type=click.Choice(["on", "off"]),
    default=None,
    help="Let members sign in with a discoverable passkey alone (user verification "
    "required; still an MFA sign-in). Without it: show the settings.",
)
@database_options
def sign_in(passwordless: str | None, data_dir: str | None, database_url: str | None) -> None:
    """Show or change how members sign in to the portal (as the account's root, audited)."""
    root = RootSession.open(settings_from(data_dir, database_url))
    if passwordless is not None:
        root.call("UpdateAccountSignInSettings", SERVICE, PasswordlessSignIn=passwordless == "on")
    settings = root.call("GetAccountSignInSettings", SERVICE)
    state = "on" if settings["PasswordlessSignIn"] else "off"
    click.echo(f"passwordless sign-in with a passkey: {state}")
