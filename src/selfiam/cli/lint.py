"""``selfiam policy lint FILE...``: validate policies and check their actions against AWS's.

Exit status: 0 when no file has an error (warnings too fail with ``--strict``), 1 otherwise,
so the command fits a CI job. The checks are in `selfiam.tooling.lint`.
"""

from __future__ import annotations

import json
import sys

import click

from selfiam.catalog import Catalog, CatalogUnavailableError
from selfiam.cli.printable import echo
from selfiam.policy import PolicyKind
from selfiam.tooling.lint import ERROR, FileReport, Finding, lint_policy, render_json, render_text

_KINDS = [kind.value for kind in PolicyKind]


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@click.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Readable lines, or one JSON object.",
)
@click.option("--expand", is_flag=True, help="Show the actions each wildcard matches today.")
@click.option(
    "--kind",
    type=click.Choice(_KINDS),
    default=PolicyKind.MANAGED.value,
    show_default=True,
    help="Where the documents will be used: decides the elements and the size IAM accepts.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def lint(files: tuple[str, ...], fmt: str, expand: bool, kind: str, strict: bool) -> None:
    """Lint policy documents (FILE..., or - for stdin) against AWS's catalog of actions.

    Errors: what IAM would reject, and every Action/NotAction entry that matches no real
    action (a renamed or misspelt action silently grants nothing). Warnings: grants that let
    the holder escalate their own privileges, write actions on Resource "*", and resources
    that can match nothing.
    """
    try:
        catalog = Catalog.load()
    except CatalogUnavailableError as exc:
        raise click.ClickException(str(exc)) from None
    reports: list[FileReport] = []
    for path in files:
        try:
            text = _read(path)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            reports.append(FileReport(path, [Finding(ERROR, "unreadable", reason)]))
            continue
        reports.append(lint_policy(text, path=path, kind=PolicyKind(kind), catalog=catalog))
    if fmt == "json":
        echo(json.dumps(render_json(reports, expand=expand), indent=2))
    else:
        echo(render_text(reports, expand=expand, catalog=catalog))
    failed = any(r.errors for r in reports) or (strict and any(r.warnings for r in reports))
    sys.exit(1 if failed else 0)
