"""api/protocol.OneSendResponses: a response's head goes out with its body, in one write."""

from __future__ import annotations

from typing import Any

from selfiam.api.protocol import OneSendResponses

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n"


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_the_head_waits_for_the_body() -> None:
    raw = FakeTransport()
    one = OneSendResponses(raw)  # type: ignore[arg-type]
    one.write(HEAD)
    assert raw.writes == []
    one.write(b"body")
    assert raw.writes == [HEAD + b"body"]


def test_later_writes_pass_through_as_they_come() -> None:
    raw = FakeTransport()
    one = OneSendResponses(raw)  # type: ignore[arg-type]
    for chunk in (HEAD, b"4\r\nbody\r\n", b"0\r\n\r\n"):
        one.write(chunk)
    assert raw.writes == [HEAD + b"4\r\nbody\r\n", b"0\r\n\r\n"]


def test_an_interim_100_continue_is_sent_at_once() -> None:
    raw = FakeTransport()
    one = OneSendResponses(raw)  # type: ignore[arg-type]
    one.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert raw.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    one.write(HEAD)
    one.write(b"body")
    assert raw.writes[1:] == [HEAD + b"body"]


def test_a_response_without_a_body_is_not_held() -> None:
    raw = FakeTransport()
    one = OneSendResponses(raw, hold=False)  # type: ignore[arg-type]
    one.write(HEAD)
    assert raw.writes == [HEAD]


def test_closing_sends_a_held_head_first() -> None:
    raw = FakeTransport()
    one = OneSendResponses(raw)  # type: ignore[arg-type]
    one.write(HEAD)
    one.close()
    assert raw.writes == [HEAD] and raw.closed
    assert one.is_closing()  # anything else is the transport's
