"""The CLI acts as the account's root principal, through the service layer (DESIGN rule 1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click

from selfiam.cli.options import open_for_command
from selfiam.cli.printable import printable
from selfiam.domain.errors import AwsError
from selfiam.domain.identifiers import new_request_id
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.factory import account_of
from selfiam.service.runtime import Runtime
from selfiam.service.together import invoke_together
from selfiam.settings import Settings


@dataclass
class RootSession:
    runtime: Runtime
    account_id: str

    @classmethod
    def open(cls, settings: Settings) -> RootSession:
        runtime = open_for_command(settings)
        account = account_of(runtime)
        if account is None:
            raise click.ClickException("no account yet: run `selfiam init` first.")
        return cls(runtime, account)

    def call(self, operation: str, service: str = "iam", **params: Any) -> dict[str, Any]:
        """Invoke an operation as root; an AWS error becomes a one-line CLI error."""
        with self._errors():
            return self.runtime.invoke(
                service, operation, params, Caller.root(self.account_id), self._info(service)
            )

    def call_together(self, *steps: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """IAM operations ``(operation, params)`` as root in one transaction: all or none."""
        with self._errors():
            return invoke_together(
                self.runtime,
                [("iam", operation, params) for operation, params in steps],
                Caller.root(self.account_id),
                self._info("iam"),
            )

    def _info(self, service: str) -> RequestInfo:
        return RequestInfo(
            request_id=new_request_id(),
            now=self.runtime.clock(),
            source_ip="local",
            user_agent="selfiam-cli",
            service=service,
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except AwsError as err:
            raise click.ClickException(printable(f"{err.code}: {err.explanation}")) from None
        finally:
            self.runtime.audit.flush()
