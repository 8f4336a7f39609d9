"""The ``selfiam`` command."""

from __future__ import annotations

import click

from selfiam import __version__
from selfiam.cli.audit import audit
from selfiam.cli.server import init, serve
from selfiam.cli.users import user


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="selfiam")
def cli() -> None:
    """selfiam: self-hosted IAM that speaks AWS's IAM and STS APIs."""


cli.add_command(init)
cli.add_command(serve)
cli.add_command(user)
cli.add_command(audit)


def _add_optional_commands() -> None:
    try:
        from selfiam.cli.policy import policy
    except ImportError:  # pragma: no cover - while the policy tooling is absent
        return
    cli.add_command(policy)


_add_optional_commands()


def main() -> None:
    cli()
