"""The real aws CLI, pointed at a live selfiam server with --endpoint-url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest

from support.server import LiveServer

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))


def aws(
    server: LiveServer, *args: str, key: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the aws CLI as the admin, or with a key pair (and optionally a session token)."""
    env = server.cli_env(*key[:2]) if key else server.cli_env()
    if len(key) == 3:
        env["AWS_SESSION_TOKEN"] = key[2]
    return subprocess.run(
        [AWS, *args, "--endpoint-url", server.endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_aws_cli_self_service_steps(sqlite_server: LiveServer, tmp_path: Path) -> None:
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

    # SelfServiceCredentials requires MFA to manage keys: the long-term key alone is refused.
    no_mfa = aws(sqlite_server, "iam", "create-access-key", key=dora)
    assert no_mfa.returncode != 0
    assert "AccessDenied" in no_mfa.stderr and "explicit deny" in no_mfa.stderr

    # dora enrols a virtual MFA device with the CLI and gets an MFA session.
    seed_file = tmp_path / "seed.txt"
    device = aws(
        sqlite_server,
        "iam",
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "dora",
        "--outfile",
        str(seed_file),
        "--bootstrap-method",
        "Base32StringSeed",
        key=dora,
    )
    assert device.returncode == 0, device.stderr
    serial = json.loads(device.stdout)["VirtualMFADevice"]["SerialNumber"]
    totp = pyotp.TOTP(seed_file.read_text().strip())
    step = int(time.time()) // 30
    enabled = aws(
        sqlite_server,
        "iam",
        "enable-mfa-device",
        "--user-name",
        "dora",
        "--serial-number",
        serial,
        "--authentication-code1",
        totp.at((step - 1) * 30),
        "--authentication-code2",
        totp.at(step * 30),
        key=dora,
    )
    assert enabled.returncode == 0, enabled.stderr
    token = aws(
        sqlite_server,
        "sts",
        "get-session-token",
        "--serial-number",
        serial,
        "--token-code",
        totp.at((step + 1) * 30),
        key=dora,
    )
    assert token.returncode == 0, token.stderr
    creds = json.loads(token.stdout)["Credentials"]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

    second = aws(sqlite_server, "iam", "create-access-key", key=session)
    assert second.returncode == 0, second.stderr
    third = aws(sqlite_server, "iam", "create-access-key", key=session)
    assert third.returncode != 0 and "LimitExceeded" in third.stderr
