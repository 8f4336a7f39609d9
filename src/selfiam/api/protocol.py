"""uvicorn's httptools protocol with a bound on each request's head (URL and headers).

httptools accepts a request line and headers of any size, and gathers them by
concatenating bytes (quadratic in the number of packets), all before the app is
called: a client could make the server hold megabytes per connection. This
protocol counts the bytes received while a request's head is incomplete and
answers 400 and closes the connection past ``limits.MAX_HEAD_BYTES``. A chunk is
counted only if no head or message was completed while it was parsed and the head is still
incomplete after it, so a body that arrives with its head, or the end of a body
that arrives with the next request's first bytes, is never counted.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from selfiam.api.limits import MAX_HEAD_BYTES

__all__ = ["BoundedHeadProtocol", "PROTOCOL"]

#: How ``uvicorn.run(http=...)`` names this class (importable in every worker).
PROTOCOL = f"{__name__}:BoundedHeadProtocol"
_TOO_LARGE = "Request header section too large."


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

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._completions += 1
        self._in_head = True
        self._head_bytes = 0
