"""The ``selfiam`` command.

Subcommands are imported only when they run: ``selfiam policy simulate`` needs
the policy engine, not SQLAlchemy and Alembic, and starts in a fraction of the time.
"""

from __future__ import annotations

import importlib

import click

from selfiam import __version__

#: command name -> "module:attribute" of its click command.
COMMANDS = {
    "init": "selfiam.cli.server:init",
    "serve": "selfiam.cli.server:serve",
    "user": "selfiam.cli.users:user",
    "role": "selfiam.cli.roles:role",
    "audit": "selfiam.cli.audit:audit",
    "access-report": "selfiam.cli.access_report:access_report",
    "policy": "selfiam.cli.policy:policy",
    "verify": "selfiam.cli.verify:verify",
    "setup": "selfiam.cli.setup:setup",
    "onboard": "selfiam.cli.onboard:onboard_command",
    "offboard": "selfiam.cli.offboard:offboard",
    "sign-in": "selfiam.cli.sign_in:sign_in",
    "backup": "selfiam.cli.backup:backup",
    "restore": "selfiam.cli.backup:restore",
    "rotate-master-key": "selfiam.cli.rekey:rotate_master_key_command",
    "server-certificate": "selfiam.cli.server_certificates:server_certificate",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        """Run the subcommand; an error's message (which may quote a stored name or an
        endpoint's answer) is made printable before click shows it."""
        from selfiam.cli.printable import printable_lines

        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = printable_lines(exc.message)
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="selfiam")
def cli() -> None:
    """selfiam: self-hosted IAM that speaks AWS's IAM and STS APIs."""


def main() -> None:
    cli()
