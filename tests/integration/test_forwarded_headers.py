"""Finding 7: X-Forwarded-For is trusted only from the proxies the operator names.

A client on the server's own host sends ``X-Forwarded-For: 203.0.113.9``. By default
(whatever $FORWARDED_ALLOW_IPS says) selfiam records the connection's address,
127.0.0.1, in the audit trail and as ``aws:SourceIp``; started with
``--forwarded-allow-ips 127.0.0.1`` (a proxy on the loopback), it records 203.0.113.9.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer, live_server

pytestmark = pytest.mark.slow

FORWARDED = "203.0.113.9"
#: GetUser allowed only from the forwarded address.
ONLY_FROM_FORWARDED = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": "iam:GetUser",
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": f"{FORWARDED}/32"}},
        },
    }
)


@pytest.fixture(scope="module", params=["default", "trusted"])
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch_module: pytest.MonkeyPatch,
) -> Iterator[LiveServer]:
    # uvicorn's own default would trust the loopback, or whatever this says.
    monkeypatch_module.setenv("FORWARDED_ALLOW_IPS", "*")
    args = ("--forwarded-allow-ips", "127.0.0.1") if request.param == "trusted" else ()
    with live_server(tmp_path_factory.mktemp("selfiam-data"), serve_args=args) as srv:
        yield srv


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def expected_ip(server: LiveServer) -> str:
    return FORWARDED if "--forwarded-allow-ips" in list(server.process.args) else "127.0.0.1"


def forwarding(client: Any) -> Any:
    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-For"] = FORWARDED

    client.meta.events.register("before-send", add_header)
    return client


def audited_ip(server: LiveServer, request_id: str) -> str:
    """The source address the audit trail recorded for ``request_id``."""
    for _ in range(100):  # reads are written by the audit thread a moment later
        out = server.selfiam("audit", "--limit", "20")
        assert out.returncode == 0, out.stderr
        for line in out.stdout.splitlines():
            if line.endswith(request_id):
                return line.rsplit("[", 1)[1].split("]", 1)[0]
        time.sleep(0.1)
    raise AssertionError(f"no audit record for {request_id}")


def test_audit_trail_records_the_trusted_address(server: LiveServer) -> None:
    response = forwarding(server.client(service="sts")).get_caller_identity()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert audited_ip(server, request_id) == expected_ip(server)


def test_aws_source_ip_is_the_trusted_address(server: LiveServer) -> None:
    iam = server.client()
    iam.create_user(UserName="carol")
    iam.put_user_policy(
        UserName="carol", PolicyName="from-forwarded", PolicyDocument=ONLY_FROM_FORWARDED
    )
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    carol = forwarding(server.client(key["AccessKeyId"], key["SecretAccessKey"]))
    if expected_ip(server) == FORWARDED:
        assert carol.get_user(UserName="carol")["User"]["UserName"] == "carol"
    else:
        with pytest.raises(ClientError) as denied:
            carol.get_user(UserName="carol")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_a_malformed_proxy_list_is_refused(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from selfiam.cli.main import cli

    result = CliRunner().invoke(
        cli, ["serve", "--data-dir", str(tmp_path), "--forwarded-allow-ips", "127.0.0.1,proxy"]
    )
    assert result.exit_code == 2
    assert "'proxy' is not an IP address or network" in result.output
    assert not os.listdir(tmp_path)
