"""``selfiam init`` and ``selfiam serve``."""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from contextlib import nullcontext
from dataclasses import replace
from urllib.parse import urlsplit

import click

from selfiam.cli.options import database_options, open_for_command, settings_from
from selfiam.service.backup import BackupError, serving
from selfiam.service.bootstrap import InitResult, initialize
from selfiam.service.factory import account_of
from selfiam.service.runtime import Runtime
from selfiam.settings import Settings


def _endpoint(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.port}"


def _portal(settings: Settings, account_id: str) -> str:
    return f"{settings.public_url or _endpoint(settings)}/portal/signin?account={account_id}"


def _print_init(result: InitResult, settings: Settings, output: str) -> None:
    facts = {
        "endpoint": _endpoint(settings),
        "portal": _portal(settings, result.account_id),
        "account_id": result.account_id,
        "user_name": result.user_name,
        "access_key_id": result.access_key_id,
        "secret_access_key": result.secret_access_key,
        "password": result.password,
    }
    if output == "json":
        click.echo(json.dumps(facts))
        return
    click.echo("selfiam is initialised. These credentials are shown ONCE; store them now.\n")
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        click.echo(f"  {key.replace('_', ' '):<{width}}  {value}")
    click.echo(
        f"\n  aws iam get-user --endpoint-url {facts['endpoint']}   "
        "(with the key above in your AWS profile)"
    )
    click.echo("  The password is temporary: it must be changed at the first sign-in.\n")


def _initialize(runtime: Runtime, settings: Settings, output: str) -> None:
    result = initialize(runtime)
    _print_init(result, settings, output)


@click.command()
@database_options
@click.option(
    "--host", default=None, help="Host the endpoint will be served on (for the printout)."
)
@click.option("--port", type=int, default=None, help="Port the endpoint will be served on.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text")
def init(
    data_dir: str | None, database_url: str | None, host: str | None, port: int | None, output: str
) -> None:
    """Create the data directory, database, master key, account, admin user and SelfService group."""
    settings = settings_from(data_dir, database_url, host=host, port=port)
    runtime = open_for_command(settings)
    existing = account_of(runtime)
    if existing is not None:
        raise click.ClickException(
            f"{settings.data_dir} already holds account {existing}; refusing to overwrite it."
        )
    _initialize(runtime, settings, output)


def _proxies(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    """The trusted proxies: IP addresses or networks, comma-separated; none if empty.

    uvicorn reads a malformed entry as a literal that never matches, silently; here
    it is an error, so that an operator learns of the typo at once. ``serve`` passes
    both of uvicorn's options even when there are none, so its defaults (proxy headers
    on, trusted from $FORWARDED_ALLOW_IPS or the loopback addresses) never apply: a
    local client could otherwise choose its own address (aws:SourceIp, the audit trail).
    """
    proxies = [item.strip() for item in value.split(",") if item.strip()]
    for item in proxies:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise click.BadParameter(f"{item!r} is not an IP address or network") from None
    return proxies


def _public_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An http(s) URL whose host is a name: WebAuthn refuses IP addresses as RP IDs."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return f"{parts.scheme}://{parts.netloc}"
    raise click.BadParameter("passkeys need a host name, not an IP address (e.g. localhost)")


@click.command()
@database_options
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8000).")
@click.option(
    "--init-if-missing",
    is_flag=True,
    help="Initialise the data directory first if it holds no account (make run).",
)
@click.option("--log-level", default="warning", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    envvar="SELFIAM_WORKERS",
    help="Worker processes (or $SELFIAM_WORKERS). Each opens its own database connections "
    "and caches, kept right across processes by the database's auth version.",
)
@click.option(
    "--forwarded-allow-ips",
    "proxies",
    default="",
    metavar="LIST",
    callback=_proxies,
    help="Comma-separated IP addresses or networks of reverse proxies whose "
    "X-Forwarded-For and X-Forwarded-Proto are trusted (the client's address for "
    "aws:SourceIp and the audit trail). Default: none, whatever $FORWARDED_ALLOW_IPS says.",
)
@click.option(
    "--public-url",
    default=None,
    envvar="SELFIAM_PUBLIC_URL",
    callback=_public_url,
    metavar="URL",
    help="The portal's public address, e.g. https://iam.example.com (or "
    "$SELFIAM_PUBLIC_URL): its host name is the relying party of passkeys, which then "
    "work only there. Default: the host each request names (http://localhost:PORT).",
)
@click.option(
    "--access-log",
    is_flag=True,
    envvar="SELFIAM_ACCESS_LOG",
    help="Print one line per request on stdout: time, client, method, path, status, size, "
    "duration, request id, user agent. Never a query string, body or credential.",
)
@click.option(
    "--audit-retention-days",
    type=click.IntRange(min=1),
    default=None,
    envvar="SELFIAM_AUDIT_RETENTION_DAYS",
    metavar="N",
    help="Prune audit records older than N days, in the background in small batches. "
    "Default: keep every record.",
)
@click.option(
    "--inline-reads",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    envvar="SELFIAM_INLINE_READS",
    help="Whether cheap reads run on the event loop rather than a worker thread (or "
    "$SELFIAM_INLINE_READS). auto: always on SQLite; on PostgreSQL while the database "
    "answers as fast as one on the same host (heartbeat round trip under 2 ms, reads "
    "waiting under 1 ms: docs/operations.md). always, never: force.",
)
def serve(
    data_dir: str | None,
    database_url: str | None,
    host: str | None,
    port: int | None,
    init_if_missing: bool,
    log_level: str,
    workers: int,
    proxies: list[str],
    public_url: str | None,
    access_log: bool,
    audit_retention_days: int | None,
    inline_reads: str,
) -> None:
    """Serve the IAM and STS APIs."""
    # Read by every worker's Runtime (store/inline_reads.py), as uvicorn's workers are.
    os.environ["SELFIAM_INLINE_READS"] = inline_reads
    settings = replace(
        settings_from(data_dir, database_url, host=host, port=port),
        public_url=public_url,
        access_log=access_log,
        audit_retention_days=audit_retention_days,
    )
    try:
        with serving(settings.data_dir) if settings.is_sqlite else nullcontext():
            _serve(settings, init_if_missing, log_level, workers, proxies)
    except BackupError as err:
        raise click.ClickException(str(err)) from None


def _serve(
    settings: Settings, init_if_missing: bool, log_level: str, workers: int, proxies: list[str]
) -> None:
    """Run the server while ``serve`` holds the data directory (a restore waits for it)."""
    import uvicorn

    from selfiam.api.protocol import PROTOCOL
    from selfiam.app import create_app

    runtime = open_for_command(settings)
    account = account_of(runtime)
    if account is None:
        if not init_if_missing:
            raise click.ClickException("no account yet: run `selfiam init` first.")
        _initialize(runtime, settings, "text")
        account = account_of(runtime)
    click.echo(f"selfiam: account {account}, IAM and STS at {_endpoint(settings)}/")
    click.echo(f"selfiam: portal at {_portal(settings, account)}")
    sys.stdout.flush()
    if workers > 1:
        # uvicorn starts each worker as a new process that calls the factory, which
        # reads its settings from the environment and opens its own Runtime.
        os.environ.update(
            SELFIAM_DATA_DIR=str(settings.data_dir),
            SELFIAM_DATABASE_URL=settings.database_url,
            SELFIAM_MASTER_KEY_FILE=str(settings.master_key_file),
        )
        if settings.public_url:
            os.environ["SELFIAM_PUBLIC_URL"] = settings.public_url
        if settings.access_log:
            os.environ["SELFIAM_ACCESS_LOG"] = "1"
        if settings.audit_retention_days is not None:
            os.environ["SELFIAM_AUDIT_RETENTION_DAYS"] = str(settings.audit_retention_days)
        runtime.engine.dispose()
        uvicorn.run(
            "selfiam.app:create_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            access_log=False,
            server_header=False,  # AWS sends no "server: uvicorn"; no need to advertise it
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies,
            http=PROTOCOL,
        )
        return
    uvicorn.run(
        create_app(settings, runtime=runtime),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        server_header=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
        http=PROTOCOL,
    )
