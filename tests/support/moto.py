"""moto's IAM server (PyPI's moto) on a free loopback port: a second, independent IAM.

The tooling commands (`setup`, `onboard`, `offboard`) are run against it as well as against
selfiam, to show they rely on AWS's behaviour and not on selfiam's. moto accepts any
credentials; its account is 123456789012.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from support.server import free_port, stop, wait_for_port

MOTO_ACCOUNT = "123456789012"
#: Credentials moto accepts (any will do); never real ones.
MOTO_KEY = ("testing", "testing")


@dataclass
class MotoServer:
    endpoint: str
    account_id: str
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(self, service: str = "iam") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=MOTO_KEY[0],
            aws_secret_access_key=MOTO_KEY[1],
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def cli_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=MOTO_KEY[0],
            AWS_SECRET_ACCESS_KEY=MOTO_KEY[1],
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        return env


def moto_server_binary() -> str | None:
    """``moto_server`` next to the running interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("moto_server")
    return str(beside) if beside.exists() else shutil.which("moto_server")


@contextmanager
def moto_server(log_path: Path, timeout: float = 30.0) -> Iterator[MotoServer]:
    """``moto_server -H 127.0.0.1 -p PORT``, waited for (at most ``timeout`` s), stopped after."""
    binary = moto_server_binary()
    if binary is None:
        raise RuntimeError("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, proc, "moto_server", timeout)
        yield MotoServer(f"http://127.0.0.1:{port}", MOTO_ACCOUNT, proc)
    finally:
        stop(proc)
        log.close()
