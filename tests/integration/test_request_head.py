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
