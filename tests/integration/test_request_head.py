"""A live server refuses a request head (URL and headers) over 64 KiB before the app
sees it, and still takes a large body."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from selfiam.api.limits import MAX_HEAD_BYTES
from support.server import LiveServer, live_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("selfiam-data")) as srv:
        yield srv


def send_head(server: LiveServer, header_bytes: int, packet: int = 4096) -> tuple[bytes, int]:
    """Send a request whose X-Big header has ``header_bytes`` bytes, in packets; return
    the answer and how many bytes were sent before it came."""
    url = urlsplit(server.endpoint)
    head = b"GET /portal/signin HTTP/1.1\r\nHost: a\r\nX-Big: "
    sent = 0
    with socket.create_connection((url.hostname, url.port)) as s:
        s.sendall(head)
        sent += len(head)
        answer = b""
        try:
            while sent < header_bytes:
                s.sendall(b"x" * packet)
                sent += packet
                s.settimeout(0)
                try:
                    answer = s.recv(4096)
                except BlockingIOError:
                    continue
                finally:
                    s.settimeout(None)
                if answer:
                    break
            if not answer:
                s.sendall(b"\r\n\r\n")
                answer = s.recv(4096)
        except (BrokenPipeError, ConnectionResetError):
            answer = answer or s.recv(4096)
    return answer, sent


def test_a_head_over_the_bound_is_refused_early(server: LiveServer) -> None:
    # The client has 64 MiB to send, more than loopback's socket buffers hold: it is
    # stopped (answered, or its connection closed) long before, however slow the server.
    answer, sent = send_head(server, 64 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert answer.endswith(b"Request header section too large.")
    assert sent < 64 * 1024 * 1024


def test_a_head_under_the_bound_is_served(server: LiveServer) -> None:
    answer, _ = send_head(server, MAX_HEAD_BYTES // 2)
    assert answer.startswith(b"HTTP/1.1 ") and b" 400 " not in answer.split(b"\r\n", 1)[0]


def test_a_large_body_still_fits(server: LiveServer) -> None:
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"},
        }
    )
    document = text + "\n" * (131_072 - len(text))
    iam = server.client()
    policy = iam.create_policy(PolicyName="big", PolicyDocument=document)["Policy"]
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["PolicyName"] == "big"


def _exchange(server: LiveServer, request: bytes, interim: bool = False) -> bytes:
    url = urlsplit(server.endpoint)
    with socket.create_connection((url.hostname, url.port), timeout=10) as s:
        if interim:  # send the head, wait for 100 Continue, then the body
            head, body = request.split(b"\r\n\r\n", 1)
            s.sendall(head + b"\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(body)
        else:
            s.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def _complete(answer: bytes) -> bool:
    head, body = answer.split(b"\r\n\r\n", 1)
    if head.startswith(b"HTTP/1.1 100 "):
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return True


def test_head_and_interim_answers_arrive_whole(server: LiveServer) -> None:
    """Responses go out in one write once their body comes (api/protocol.py): one without
    a body (HEAD) and an interim 100 Continue, which the client waits for, still do."""
    got = _exchange(server, b"HEAD /portal/signin HTTP/1.1\r\nHost: a\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 ") and b"content-length" in got.lower()
    form = b"Action=GetCallerIdentity&Version=2011-06-15"
    got = _exchange(
        server,
        b"POST / HTTP/1.1\r\nHost: sts.amazonaws.com\r\nExpect: 100-continue\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + str(len(form)).encode() + b"\r\n\r\n" + form,
        interim=True,
    )
    assert got.startswith(b"HTTP/1.1 ") and b"<ErrorResponse" in got  # unsigned: refused
