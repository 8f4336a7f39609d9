"""``selfiam onboard USER``: a new user, a one-time console password and group memberships,
on any IAM endpoint (AWS or selfiam). The logic is in `selfiam.tooling.onboard`."""

from __future__ import annotations

import os

import click

from selfiam.cli.printable import echo, printable
from selfiam.tooling.endpoint import aws_errors, connect, endpoint_options
from selfiam.tooling.onboard import (
    OnboardingError,
    create_secret_file,
    onboard,
    parse_tags,
    write_onboarded,
)


@click.command("onboard")
@click.argument("user")
@click.option("--group", "groups", multiple=True, help="Add the user to this group (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Tag the user, KEY=VALUE (repeatable).")
@click.option("--path", default=None, help="IAM path, e.g. /engineering/.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the sign-in URL and password (JSON) to this new file, mode 0600, "
    "instead of printing the password.",
)
@endpoint_options
def onboard_command(
    user: str,
    groups: tuple[str, ...],
    tags: tuple[str, ...],
    path: str | None,
    output: str | None,
    endpoint_url: str | None,
    profile: str | None,
    region: str | None,
) -> None:
    """Create USER with a temporary console password, and put them in groups.

    The password is generated to meet the account's password policy (IAM's default policy
    when the account has none) and must be changed at the first sign-in. It is shown once:
    printed, or with --output written to a new file only its owner can read.
    """
    try:
        tag_list = parse_tags(tags)
    except OnboardingError as exc:
        raise click.BadParameter(str(exc), param_hint="--tag") from None
    endpoint = connect(endpoint_url, profile, region)
    handle = None
    if output is not None:
        try:
            handle = create_secret_file(output)
        except OSError as exc:
            raise click.ClickException(f"cannot create {output}: {exc.strerror}") from None
    try:
        with aws_errors():
            done = onboard(
                endpoint,
                user,
                groups=groups,
                tags=tag_list,
                path=path,
                report=lambda line: echo(printable(line)),
            )
        if handle is not None:
            write_onboarded(handle, done)
            handle.close()
    except BaseException as exc:
        if handle is not None and output is not None:
            handle.close()
            os.unlink(output)
        if isinstance(exc, OnboardingError):
            raise click.ClickException(printable(exc)) from None
        raise
    if output is not None:
        echo(f"sign-in URL and temporary password written to {printable(output)} (mode 0600)")
    else:
        echo(f"sign-in URL: {printable(done.sign_in_url)}")
        echo(f"temporary password (shown once; must be changed at sign-in): {done.password}")
