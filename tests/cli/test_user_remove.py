"""``selfiam user remove``: the plan printed, confirmation asked, one-step offboarding done."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from selfiam.cli.main import cli
from selfiam.domain.errors import AwsError
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.factory import open_runtime
from selfiam.settings import Settings

SCOPE = ("20261127", "us-east-1", "iam")


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def as_root(data: str, account: str, operation: str, **params: str) -> dict[str, object]:
    runtime = open_runtime(Settings.from_env(data_dir=data))
    try:
        info = RequestInfo(request_id="test", now=runtime.clock())
        return runtime.invoke("iam", operation, params, Caller.root(account), info)
    finally:
        runtime.audit.flush()


def key_works(data: str, key_id: str) -> bool:
    runtime = open_runtime(Settings.from_env(data_dir=data))
    try:
        runtime.authenticate_access_key(key_id, SCOPE)
    except AwsError as err:
        assert err.code == "InvalidClientTokenId"
        return False
    return True


def test_user_remove(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out = run("init", "--data-dir", data, "--output", "json")
    account = json.loads(out)["account_id"]
    assert run("user", "create", "erin", "--group", "SelfService", "--data-dir", data)[0] == 0
    key = as_root(data, account, "CreateAccessKey", UserName="erin")["AccessKey"]
    assert isinstance(key, dict)
    key_id = key["AccessKeyId"]

    code, out = run("user", "remove", "erin", "--dry-run", "--data-dir", data)
    assert code == 0, out
    assert f"offboarding arn:aws:iam::{account}:user/erin" in out
    assert key_id in out and "SelfService" in out and "Console password" in out
    assert "dry run: nothing removed." in out
    assert key_works(data, key_id)

    code, out = run("user", "remove", "erin", "--data-dir", data, stdin="n\n")
    assert code != 0 and "Aborted" in out
    assert key_works(data, key_id)

    code, out = run("user", "remove", "ERIN", "--data-dir", data, stdin="y\n")
    assert code == 0, out
    assert "Remove erin and all of the above? [y/N]" in out
    assert f"removed arn:aws:iam::{account}:user/erin" in out
    assert not key_works(data, key_id)

    code, out = run("user", "remove", "erin", "--yes", "--data-dir", data)
    assert code != 0 and "NoSuchEntity: The user with name erin cannot be found." in out

    code, out = run("audit", "--data-dir", data, "--action", "selfiam:OffboardUser")
    assert code == 0
    assert any("user/erin" in line and "allowed" in line for line in out.splitlines())
