"""``selfiam serve --access-log``: one line per HTTP request, never a secret.

A line names when, who (the client's address, after --forwarded-allow-ips), the method
and the PATH only, the status, the bytes sent, the time taken, the request id (to find
the request in the audit trail) and the user agent:

    2026-12-01T23:40:00.123Z 127.0.0.1 POST / 200 512B 3.1ms req=... ua="Boto3/1.35"

Never the query string, the body (form values, passwords), a header other than the user
agent (no Authorization, no cookie, no session token), nor a value of a parameter: an
Action, a presigned URL's signature or a portal form all travel there. Stored text comes
out escaped (`printable`): a user agent cannot write control characters into the log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The longest user agent kept in a line (the rest is cut).
MAX_AGENT = 256

Writer = Callable[[str], Any]


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() and c != '"' else f"\\x{ord(c) & 0xFF:02x}" for c in text)


class AccessLog:
    """ASGI middleware writing one line per HTTP request with ``write`` (stdout)."""

    def __init__(self, app: ASGIApp, write: Writer | None = None) -> None:
        self.app = app
        self.write = write or _stdout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": 0, "bytes": 0, "request_id": "-"}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"x-amzn-requestid":
                        answer["request_id"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.write(line(scope, answer, (time.perf_counter() - started) * 1000))


def line(scope: Scope, answer: dict[str, Any], millis: float) -> str:
    client = scope.get("client")
    agent = ""
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            agent = value.decode("latin-1")[:MAX_AGENT]
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return (
        f"{at} {_printable(client[0]) if client else '-'} {_printable(scope['method'])} "
        f"{_printable(scope['path'])} {answer['status']} {answer['bytes']}B {millis:.1f}ms "
        f'req={_printable(answer["request_id"])} ua="{_printable(agent)}"'
    )


def _stdout(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
