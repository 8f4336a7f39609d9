"""``selfiam audit``: read the audit trail; ``selfiam audit export``: CloudTrail records."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

from selfiam.cli.options import database_options, open_for_command, settings_from
from selfiam.cli.printable import echo, printable
from selfiam.service.audit import read_records
from selfiam.service.audit_export import write_cloudtrail
from selfiam.tooling.onboard import create_secret_file


def _parse_since(text: str | None) -> datetime | None:
    """An ISO 8601 time, or a span back from now: 30m, 12h, 7d."""
    if not text:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use ISO 8601 (2026-11-27T10:00) or 30m / 12h / 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group(invoke_without_command=True)
@click.pass_context
@click.option("--user", "user_name", default=None, help="Only requests made by this user.")
@click.option("--since", default=None, help="ISO 8601 time, or 30m / 12h / 7d back from now.")
@click.option("--action", default=None, help="Only this action, e.g. iam:CreateAccessKey.")
@click.option("--limit", type=int, default=100, show_default=True)
@database_options
def audit(
    ctx: click.Context,
    user_name: str | None,
    since: str | None,
    action: str | None,
    limit: int,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Print audit records, newest first (``selfiam audit export``: all of them as CloudTrail
    records)."""
    if ctx.invoked_subcommand is not None:
        return
    runtime = open_for_command(settings_from(data_dir, database_url))
    suffix = f"/{user_name}" if user_name else None
    records = read_records(
        runtime.engine,
        caller_arn_suffix=suffix,
        since=_parse_since(since),
        action=action,
        limit=limit,
    )
    if user_name:
        records = [
            r
            for r in records
            if ":user/" in (r.caller_arn or "") and r.caller_arn.rsplit("/", 1)[-1] == user_name
        ]
    for r in records:
        error = f" {printable(r.error_code)}" if r.error_code else ""
        echo(
            f"{r.at:%Y-%m-%dT%H:%M:%SZ} {printable(r.decision):<12} {printable(r.action):<32} "
            f"{printable(r.caller_arn or '-')} -> {printable(r.resource or '-')}{error} "
            f"[{printable(r.source_ip)}] {printable(r.request_id)}"
        )


@audit.command("export")
@click.option("--since", default=None, help="ISO 8601 time, or 30m / 12h / 7d back from now.")
@click.option("--until", default=None, help="ISO 8601 time, or 30m / 12h / 7d back from now.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["cloudtrail"]),
    default="cloudtrail",
    show_default=True,
    help='CloudTrail log-file JSON: {"Records": [...]}, one event record per request.',
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="New file to write (mode 0600, never overwritten), or - for stdout.",
)
@database_options
def export(
    since: str | None,
    until: str | None,
    fmt: str,
    output: str,
    data_dir: str | None,
    database_url: str | None,
) -> None:
    """Write the audit records made in [--since, --until), oldest first, as CloudTrail
    event records, streamed: any size of trail in bounded memory. No record holds a
    secret."""
    runtime = open_for_command(settings_from(data_dir, database_url))
    start, end = _parse_since(since), _parse_since(until)
    if output == "-":
        count = write_cloudtrail(runtime.engine, sys.stdout, start, end)
    else:
        try:
            handle = create_secret_file(output)
        except FileExistsError:
            raise click.ClickException(
                f"{printable(output)} exists; refusing to overwrite it."
            ) from None
        with handle:
            count = write_cloudtrail(runtime.engine, handle, start, end)
    echo(f"exported {count} audit records as {fmt} records", err=True)
