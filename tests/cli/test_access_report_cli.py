"""``selfiam access-report``: an entity's allowed services and their last use, as root, on a
real database (the report itself is tested in tests/service/test_access_reports.py)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from selfiam.cli.main import cli
from selfiam.domain.identifiers import new_request_id
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.factory import open_runtime
from selfiam.settings import Settings

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_access_report_of_a_user_a_group_and_an_arn(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out = run("init", "--data-dir", data, "--output", "json")
    assert code == 0, out
    account = json.loads(out)["account_id"]
    assert run("user", "create", "alice", "--no-password", "--data-dir", data)[0] == 0
    runtime = open_runtime(Settings.from_env(data_dir=data))
    info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
    runtime.invoke(
        "iam",
        "AttachUserPolicy",
        {"UserName": "alice", "PolicyArn": READ_ONLY},
        Caller.root(account),
        info,
    )
    runtime.audit.flush()

    code, out = run("access-report", "alice", "--data-dir", data)
    assert code == 0, out
    arn = f"arn:aws:iam::{account}:user/alice"
    assert f"{arn}: 1 services allowed, 1 never used" in out
    assert "iam" in out and "unused" in out

    code, out = run("access-report", arn, "--actions", "--output", "json", "--data-dir", data)
    assert code == 0, out
    report = json.loads(out)
    assert report["Arn"] == arn
    tracked = report["ServicesLastAccessed"][0]["TrackedActionsLastAccessed"]
    assert {"ActionName": "GetUser"} in tracked

    code, out = run("access-report", "nobody", "--data-dir", data)
    assert code != 0 and "NoSuchEntity" in out
