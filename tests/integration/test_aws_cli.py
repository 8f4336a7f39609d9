"""The real aws CLI, pointed at a live selfiam server with --endpoint-url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.server import LiveServer

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))


def aws(
    server: LiveServer, *args: str, key: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = server.cli_env(*(key or (None, None)))
    return subprocess.run(
        [AWS, *args, "--endpoint-url", server.endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_aws_cli_self_service_steps(sqlite_server: LiveServer) -> None:
    assert os.path.exists(AWS), "the aws CLI is installed with the test extras"
    created = aws(sqlite_server, "iam", "create-user", "--user-name", "dora")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["User"]["UserName"] == "dora"
    assert (
        aws(
            sqlite_server,
            "iam",
            "add-user-to-group",
            "--group-name",
            "SelfService",
            "--user-name",
            "dora",
        ).returncode
        == 0
    )
    key = json.loads(aws(sqlite_server, "iam", "create-access-key", "--user-name", "dora").stdout)
    dora = (key["AccessKey"]["AccessKeyId"], key["AccessKey"]["SecretAccessKey"])

    me = aws(sqlite_server, "sts", "get-caller-identity", key=dora)
    assert me.returncode == 0, me.stderr
    assert json.loads(me.stdout)["Arn"].endswith(":user/dora")

    listed = aws(sqlite_server, "iam", "list-users", key=dora)
    assert listed.returncode == 0, listed.stderr
    assert "dora" in {u["UserName"] for u in json.loads(listed.stdout)["Users"]}

    refused = aws(sqlite_server, "iam", "create-user", "--user-name", "mallory", key=dora)
    assert refused.returncode != 0
    assert "AccessDenied" in refused.stderr
    assert "is not authorized to perform: iam:CreateUser" in refused.stderr

    second = aws(sqlite_server, "iam", "create-access-key", key=dora)
    assert second.returncode == 0, second.stderr
    third = aws(sqlite_server, "iam", "create-access-key", key=dora)
    assert third.returncode != 0 and "LimitExceeded" in third.stderr
