"""The wire protocol as clients other than boto3's default use it: GET, presigned URLs,
unknown actions; and the audit trail of refused requests."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support.server import LiveServer

pytestmark = pytest.mark.slow


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def signed_get(server: LiveServer, service: str, params: dict[str, str]) -> tuple[int, str]:
    url = f"{server.endpoint}/?{urlencode(params)}"
    request = AWSRequest(method="GET", url=url)
    creds = Credentials(server.admin_key_id, server.admin_secret)
    SigV4Auth(creds, service, "us-east-1").add_auth(request)
    return fetch(url, dict(request.headers.items()))


def test_presigned_get_caller_identity(sqlite_server: LiveServer) -> None:
    sts = sqlite_server.client(service="sts")
    url = sts.generate_presigned_url("get_caller_identity", HttpMethod="GET", ExpiresIn=60)
    status, body = fetch(url)
    assert status == 200, body
    assert f"<Arn>arn:aws:iam::{sqlite_server.account_id}:user/admin</Arn>" in body


def test_signed_get_query_string(sqlite_server: LiveServer) -> None:
    status, body = signed_get(
        sqlite_server, "iam", {"Action": "GetUser", "Version": "2010-05-08"}
    )
    assert status == 200, body
    assert "<UserName>admin</UserName>" in body
    assert "<RequestId>" in body


def test_unknown_action(sqlite_server: LiveServer) -> None:
    status, body = signed_get(
        sqlite_server, "iam", {"Action": "MakeMeAdmin", "Version": "2010-05-08"}
    )
    assert status == 400
    assert "<Code>InvalidAction</Code>" in body


def test_answers_carry_a_request_id_and_no_server_banner(sqlite_server: LiveServer) -> None:
    req = urllib.request.Request(f"{sqlite_server.endpoint}/?Action=ListUsers&Version=2010-05-08")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    headers = refused.value.headers
    assert headers["x-amzn-RequestId"]
    assert headers["Server"] is None


def test_unsigned_request_is_refused_and_audited(sqlite_server: LiveServer) -> None:
    status, body = fetch(f"{sqlite_server.endpoint}/?Action=ListUsers&Version=2010-05-08")
    assert status == 403
    assert "<Code>MissingAuthenticationToken</Code>" in body
    deadline = time.monotonic() + 15
    out = ""
    while time.monotonic() < deadline:
        out = sqlite_server.selfiam("audit", "--action", "iam:ListUsers").stdout
        if "MissingAuthenticationToken" in out:
            break
        time.sleep(0.2)
    assert "MissingAuthenticationToken" in out
