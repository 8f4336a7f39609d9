"""Reaching an IAM endpoint through boto3: a real AWS account or a selfiam server.

The tooling commands (`setup`, `onboard`, `offboard`, `verify`) talk to IAM only through a
boto3 client, never through selfiam's service layer, so the same code runs against AWS (the
standard credential chain, ``--profile``, ``--region``) and against selfiam
(``--endpoint-url``). This module builds those clients, names AWS's errors, and turns them
into one readable line for a command.

boto3 is imported when a client is built, not when this module is: ``selfiam --help`` and
``verify --local`` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

#: Error codes with which an endpoint says it does not implement an operation.
UNSUPPORTED_CODES = frozenset({"InvalidAction", "NotImplemented", "UnsupportedOperation"})
#: Hosts of AWS's own endpoints: the sign-in URL is AWS's console there.
_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Endpoint:
    """IAM and STS clients for one endpoint; ``url`` is None for AWS's own."""

    iam: Any
    sts: Any
    url: str | None

    @property
    def label(self) -> str:
        return self.url or "AWS"

    @property
    def is_aws(self) -> bool:
        return is_aws_url(self.url)

    def caller_arn(self) -> str:
        return str(self.sts.get_caller_identity()["Arn"])

    def sts_as(self, key_id: str, secret: str, token: str | None = None) -> Any:
        """An STS client of the same endpoint and region, signing with other credentials."""
        import boto3

        return boto3.client(
            "sts",
            endpoint_url=self.url,
            region_name=self.sts.meta.region_name,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
        )


def is_aws_url(url: str | None) -> bool:
    """No endpoint URL (boto3's default) or one on an AWS host."""
    if not url:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host.endswith(_AWS_HOST_SUFFIXES)


def connect(endpoint_url: str | None, profile: str | None, region: str | None) -> Endpoint:
    """Clients from boto3's standard credential chain; IAM is global, so the region only
    picks the signing region (us-east-1 when none is configured)."""
    try:
        import boto3
        from botocore.exceptions import ProfileNotFound
    except ImportError:  # pragma: no cover - boto3 is a dependency
        raise click.ClickException("talking to an IAM endpoint needs boto3") from None
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as exc:
        raise click.ClickException(str(exc)) from None
    region_name = session.region_name or "us-east-1"
    iam = session.client("iam", endpoint_url=endpoint_url, region_name=region_name)
    sts = session.client("sts", endpoint_url=endpoint_url, region_name=region_name)
    return Endpoint(iam, sts, endpoint_url)


def clients(endpoint_url: str | None, profile: str | None, region: str | None) -> tuple[Any, Any]:
    endpoint = connect(endpoint_url, profile, region)
    return endpoint.iam, endpoint.sts


def error_code(exc: BaseException) -> str | None:
    """AWS's error code of a boto3 ClientError; None for anything else."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


def is_missing(exc: BaseException) -> bool:
    return error_code(exc) == "NoSuchEntity"


def is_unsupported(exc: BaseException) -> bool:
    """The endpoint does not implement the operation: an unknown-action error code (selfiam
    answers InvalidAction, as AWS does for an action it does not know), or an answer that is
    not an AWS response at all (moto_server answers an unimplemented action with an HTML
    error page). Used only for optional steps, whose absence a later step would expose."""
    if error_code(exc) in UNSUPPORTED_CODES:
        return True
    from botocore.parsers import ResponseParserError

    return isinstance(exc, ResponseParserError)


def describe(exc: BaseException) -> str:
    """One line: ``Operation: Code: message`` for an AWS error, botocore's text otherwise."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        operation = getattr(exc, "operation_name", "request")
        return f"{operation}: {error.get('Code', 'Error')}: {error.get('Message', exc)}"
    return str(exc)


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn boto3's errors (and an answer that is not AWS's at all) into a click error:
    one line, exit status 1."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        yield
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        from selfiam.cli.printable import printable

        raise click.ClickException(printable(describe(exc))) from None


def endpoint_options(fn: F) -> F:
    """``--endpoint-url``, ``--profile`` and ``--region``, as the aws CLI spells them."""
    fn = click.option("--region", default=None, help="AWS region of the client.")(fn)
    fn = click.option("--profile", default=None, help="AWS profile of the credentials to use.")(fn)
    fn = click.option(
        "--endpoint-url",
        default=None,
        help="IAM endpoint, e.g. a selfiam server (default: AWS's own).",
    )(fn)
    return fn
