"""A real selfiam server in a subprocess, on a free loopback port, for integration tests."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    endpoint: str
    account_id: str
    admin_key_id: str
    admin_secret: str
    data_dir: Path
    database_url: str
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(
        self,
        key_id: str | None = None,
        secret: str | None = None,
        service: str = "iam",
        token: str | None = None,
    ) -> Any:
        """A boto3 client signing with the given key (default: the admin's)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key_id or self.admin_key_id,
            aws_secret_access_key=secret or self.admin_secret,
            aws_session_token=token,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def cli_env(self, key_id: str | None = None, secret: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID=key_id or self.admin_key_id,
            AWS_SECRET_ACCESS_KEY=secret or self.admin_secret,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        return env

    def selfiam(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the selfiam CLI against this server's database."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "selfiam.cli",
                *args,
                "--data-dir",
                str(self.data_dir),
                "--database-url",
                self.database_url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )


def _selfiam_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "selfiam.cli", *args]


@contextmanager
def live_server(
    data_dir: Path,
    database_url: str | None = None,
    serve_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """``selfiam init`` then ``selfiam serve`` (with ``serve_args``, and ``env`` added to
    the environment) on a free port; stopped afterwards."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{data_dir / 'selfiam.db'}"
    port = free_port()
    common = ["--data-dir", str(data_dir), "--database-url", url]
    init = subprocess.run(
        _selfiam_cmd("init", *common, "--port", str(port), "--output", "json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if init.returncode != 0:
        raise RuntimeError(f"selfiam init failed: {init.stderr}")
    facts = json.loads(init.stdout)
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        _selfiam_cmd("serve", *common, "--port", str(port), *serve_args),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env} if env else None,
    )
    try:
        wait_for_port(port, proc)
        yield LiveServer(
            endpoint=f"http://127.0.0.1:{port}",
            account_id=facts["account_id"],
            admin_key_id=facts["access_key_id"],
            admin_secret=facts["secret_access_key"],
            data_dir=data_dir,
            database_url=url,
            process=proc,
        )
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process, killing it if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes], name: str = "selfiam serve", timeout: float = 30.0
) -> None:
    """Wait until ``proc`` (called ``name`` in errors) listens on ``port``; fail if it
    exits first or takes longer than ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not start listening in time")


@contextmanager
def another_node(
    server: LiveServer, name: str = "node-b", serve_args: tuple[str, ...] = ()
) -> Iterator[LiveServer]:
    """A second ``selfiam serve`` process (with ``serve_args``) on ``server``'s database
    and data directory (the same sealing key), on its own port: DESIGN rule 7's "several
    processes, one truth". Stopped afterwards."""
    port = free_port()
    log = (server.data_dir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        _selfiam_cmd(
            "serve",
            "--data-dir",
            str(server.data_dir),
            "--database-url",
            server.database_url,
            "--port",
            str(port),
            *serve_args,
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc, name)
        yield dataclasses.replace(server, endpoint=f"http://127.0.0.1:{port}", process=proc)
    finally:
        stop(proc)
        log.close()
