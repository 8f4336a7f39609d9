"""``selfiam policy``: check and simulate policy documents offline, without a server.

``simulate`` answers SimulateCustomPolicy exactly as the API will (same function,
`selfiam.service.simulate`), so a policy can be tried from a shell or CI before it is
applied. It reads one request object, or an array of them: a batch of thousands of cases
runs in one process, each distinct policy parsed once. ``validate`` parses one document the
way CreatePolicy / PutUserPolicy / UpdateAssumeRolePolicy would.
"""

from __future__ import annotations

import json
import sys
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
from selfiam.service.simulate import simulate_custom_policy

_KINDS = [kind.value for kind in PolicyKind]


def error_of(exc: Exception) -> tuple[str, str]:
    """The AWS error code and message the API would answer for `exc`."""
    if isinstance(exc, PolicySizeExceededError):
        return "LimitExceeded", exc.message
    if isinstance(exc, MalformedPolicyError):
        return "MalformedPolicyDocument", exc.message
    if isinstance(exc, AwsError):
        return exc.code, exc.message
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
    the request is bad. An array prints an array of responses in order; a bad element's
    response is {"Error": {"Code": ..., "Message": ...}} and the rest still run.
    """
    moment = _parse_now(now)
    text = _read(source)
    try:
        document = json.loads(text)
    except ValueError as exc:
        _fail("ValidationError", f"the input is not JSON: {exc}")
    if isinstance(document, list):
        lines = [json.dumps(_answer(item, moment), separators=(",", ":")) for item in document]
        echo("[\n" + ",\n".join(lines) + "\n]" if lines else "[]")
        return
    try:
        response = simulate_custom_policy(document, now=moment)
    except (AwsError, MalformedPolicyError) as exc:
        _fail(*error_of(exc))
    echo(json.dumps(response, indent=2))


def _answer(item: Any, moment: datetime) -> dict[str, Any]:
    """One batch element's response, or its error; one bad case never stops the batch."""
    try:
        return simulate_custom_policy(item, now=moment)
    except Exception as exc:  # noqa: BLE001 - reported in the element, as the API would
        code, message = error_of(exc)
        return {"Error": {"Code": code, "Message": message}}


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
    """Parse one policy document (PATH, or - for stdin): print OK, or what IAM would reject."""
    text = _read(path)
    try:
        parse_policy(text, PolicyKind(kind))
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
