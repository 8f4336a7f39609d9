"""``selfiam policy``: check and simulate policy documents offline, without a server.

``simulate`` answers SimulateCustomPolicy exactly as the API will (same function,
`selfiam.service.simulate`), so a policy can be tried from a shell or CI before it is
applied. It reads one request object, or an array of them: a batch of thousands of cases
runs in one process, each distinct policy parsed once. Where the API pages (MaxItems,
Marker), the CLI prints every result of a request (one per action, each with every
resource), written out one at a time as it is computed, so memory holds the input and one
result, however many the actions; a request that gives MaxItems or Marker gets exactly
that page instead.
``validate`` parses one document the way CreatePolicy / PutUserPolicy /
UpdateAssumeRolePolicy would.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any, NoReturn

import click

from selfiam.cli.printable import echo, printable
from selfiam.domain.errors import AwsError
from selfiam.policy import (
    MalformedPolicyError,
    PolicyKind,
    PolicySizeExceededError,
    parse_policy,
    policy_size,
)
from selfiam.service.simulate import custom_policy_results, simulate_custom_policy

_KINDS = [kind.value for kind in PolicyKind]


def error_of(exc: Exception) -> tuple[str, str]:
    """The AWS error code the API would answer for `exc`, and selfiam's explanation."""
    if isinstance(exc, PolicySizeExceededError):
        return "LimitExceeded", exc.message
    if isinstance(exc, MalformedPolicyError):
        return "MalformedPolicyDocument", exc.message
    if isinstance(exc, AwsError):
        return exc.code, exc.explanation  # a person reads it: the precise detail
    return "InternalFailure", f"{type(exc).__name__}: {exc}"


def _read(stream: IO[str]) -> str:
    try:
        return stream.read()
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"the input is not UTF-8 text: {exc}") from None


def _parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "use ISO 8601, e.g. 2026-11-27T10:00:00Z", param_hint="--now"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fail(code: str, message: str) -> NoReturn:
    echo(printable(f"{code}: {message}"), err=True)
    sys.exit(1)


@click.group()
def policy() -> None:
    """Validate and simulate IAM policy documents (offline)."""


@policy.command()
@click.option(
    "--input",
    "source",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help="JSON file of SimulateCustomPolicy parameters (an object, or an array); - for stdin.",
)
@click.option("--now", default=None, help="The time of the simulated requests (aws:CurrentTime).")
def simulate(source: IO[str], now: str | None) -> None:
    """Answer SimulateCustomPolicy for one request object or an array of them.

    An object prints the response (boto3's keys) and exits 1 with the error on stderr if
    the request is bad. An array prints an array of responses in order, one line each; a
    bad element's response is {"Error": {"Code": ..., "Message": ...}} and the rest still
    run. Every result is printed (IsTruncated false) unless the request gives MaxItems or
    Marker, which ask for one page as the API answers it.
    """
    moment = _parse_now(now)
    text = _read(source)
    try:
        document = json.loads(text)
    except ValueError as exc:
        _fail("ValidationError", f"the input is not JSON: {exc}")
    if isinstance(document, list):
        _batch(document, moment)
        return
    try:
        chunks = _response(document, moment, indent=2)
    except (AwsError, MalformedPolicyError) as exc:
        _fail(*error_of(exc))
    _write(chunks)
    click.echo()


def _batch(requests: list[Any], moment: datetime) -> None:
    """One line per request, each written as soon as its results are."""
    if not requests:
        click.echo("[]")
        return
    for n, item in enumerate(requests):
        click.echo("[" if n == 0 else ",")
        try:
            chunks = _response(item, moment, indent=None)
        except Exception as exc:  # noqa: BLE001 - reported in the element, as the API would
            code, message = error_of(exc)
            chunks = iter([_dumps({"Error": {"Code": code, "Message": message}}, None)])
        _write(chunks)
    click.echo("\n]")


def _response(request: Any, moment: datetime, indent: int | None) -> Iterator[str]:
    """The response as text pieces. Checks the request (raising its error) before
    returning; the results are then computed one by one as the pieces are taken."""
    if isinstance(request, dict) and ("Marker" in request or "MaxItems" in request):
        return iter([_dumps(simulate_custom_policy(request, now=moment), indent)])
    results = custom_policy_results(request, now=moment)
    return _streamed(results, indent)


def _streamed(results: Iterator[dict[str, Any]], indent: int | None) -> Iterator[str]:
    pad = "" if indent is None else " " * indent
    newline = "" if indent is None else "\n"
    yield "{" + newline + pad + '"EvaluationResults": ['
    for n, result in enumerate(results):
        text = _dumps(result, indent)
        if indent is not None:
            text = textwrap.indent(text, pad * 2)
        yield ("," if n else "") + newline + text
    yield newline + pad + "]," + newline + pad + '"IsTruncated": false' + newline + "}"


def _dumps(value: Any, indent: int | None) -> str:
    return json.dumps(value, indent=indent, separators=None if indent else (",", ":"))


def _write(chunks: Iterable[str]) -> None:
    for chunk in chunks:
        click.echo(chunk, nl=False)


@policy.command()
@click.argument("path", type=click.File("r", encoding="utf-8"))
@click.option(
    "--kind",
    type=click.Choice(_KINDS),
    default=PolicyKind.MANAGED.value,
    show_default=True,
    help="Where the document will be used: decides the elements and the size IAM accepts.",
)
def validate(path: IO[str], kind: str) -> None:
    """Parse one policy document (PATH, or - for stdin): print OK, or what IAM would reject.

    A managed policy must say "Version": "2012-10-17", as CreatePolicy requires.
    """
    text = _read(path)
    try:
        parse_policy(
            text,
            PolicyKind(kind),
            require_current_version=PolicyKind(kind) is PolicyKind.MANAGED,
        )
    except PolicySizeExceededError as exc:
        _fail(
            "LimitExceeded",
            f"{exc.message} ({policy_size(text)} characters without white space)",
        )
    except MalformedPolicyError as exc:
        _fail("MalformedPolicyDocument", exc.message)
    echo("OK")


from selfiam.cli.lint import lint  # noqa: E402 - registered on the group defined above

policy.add_command(lint)
