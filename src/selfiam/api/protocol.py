"""uvicorn's httptools protocol with a bound on each request's head (URL and headers),
sending each response in one write.

httptools accepts a request line and headers of any size, and gathers them by
concatenating bytes (quadratic in the number of packets), all before the app is
called: a client could make the server hold megabytes per connection. This
protocol counts the bytes received while a request's head is incomplete and
answers 400 and closes the connection past ``limits.MAX_HEAD_BYTES``. A chunk is
counted only if no head or message was completed while it was parsed and the head is still
incomplete after it, so a body that arrives with its head, or the end of a body
that arrives with the next request's first bytes, is never counted.

uvicorn writes a response's status line and headers as soon as the app starts it, then
its body: two sends, two TCP segments, and two wake-ups of a client waiting for the
answer. Each request's cycle gets the transport through :class:`OneSendResponses`,
which holds the head until the body's first bytes and sends both together (a HEAD
request's response, which has no body, is sent as it comes).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from selfiam.api.limits import MAX_HEAD_BYTES

__all__ = ["BoundedHeadProtocol", "OneSendResponses", "PROTOCOL"]

#: How ``uvicorn.run(http=...)`` names this class (importable in every worker).
PROTOCOL = f"{__name__}:BoundedHeadProtocol"
_TOO_LARGE = "Request header section too large."
#: An interim answer to ``Expect: 100-continue``: the client waits for it, so it is sent
#: at once.
_INTERIM = b"HTTP/1.1 1"


class OneSendResponses:
    """One response cycle's transport: its first write (the status line and headers) is
    held and sent with the next one (the body). Anything else is the transport's."""

    __slots__ = ("_transport", "_holding", "_held")

    def __init__(self, transport: asyncio.Transport, *, hold: bool = True) -> None:
        self._transport = transport
        self._holding = hold
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._held is not None:
            data, self._held = self._held + data, None
        elif self._holding and not data.startswith(_INTERIM):
            self._holding = False
            self._held = bytes(data)
            return
        self._transport.write(data)

    def close(self) -> None:
        if self._held is not None:
            self._transport.write(self._held)
            self._held = None
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHeadProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._completions = 0

    def data_received(self, data: bytes) -> None:
        completions = self._completions
        super().data_received(data)
        if (
            not self._in_head
            or self._completions != completions
            or self.transport is None
            or self.transport.is_closing()
        ):
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self.send_400_response(_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._completions += 1
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:  # a new request's cycle
            cycle.transport = OneSendResponses(  # type: ignore[assignment]
                self.transport, hold=self.scope["method"] != "HEAD"
            )

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._completions += 1
        self._in_head = True
        self._head_bytes = 0
