"""The admin commands: init, user create, audit — on a real database in a temp data dir."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from selfiam.cli.main import cli
from selfiam.domain.errors import AwsError
from selfiam.domain.password_rules import AWS_DEFAULT_POLICY, violations
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.factory import open_runtime
from selfiam.service.passwords import verify_login
from selfiam.settings import Settings


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def login_profile(data: Path, account: str, user: str) -> dict[str, Any] | None:
    """GetLoginProfile as root, or None when the user has none."""
    runtime = open_runtime(Settings.from_env(data_dir=str(data)))
    info = RequestInfo(request_id="test", now=runtime.clock())
    try:
        out = runtime.invoke(
            "iam", "GetLoginProfile", {"UserName": user}, Caller.root(account), info
        )
    except AwsError as err:
        assert err.code == "NoSuchEntity"
        return None
    finally:
        runtime.audit.flush()
    profile: dict[str, Any] = out["LoginProfile"]
    return profile


def signs_in(data: Path, account: str, user: str, password: str) -> bool:
    runtime = open_runtime(Settings.from_env(data_dir=str(data)))
    try:
        signed = verify_login(runtime, account, user, password, runtime.clock())
    finally:
        runtime.audit.flush()
    return signed is not None and signed.must_change_password


def test_init_prints_credentials_once_and_refuses_to_overwrite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = run("init", "--data-dir", str(data), "--output", "json", "--port", "8123")
    assert code == 0, out
    facts = json.loads(out)
    assert set(facts) == {
        "endpoint",
        "portal",
        "account_id",
        "user_name",
        "access_key_id",
        "secret_access_key",
        "password",
    }
    assert facts["endpoint"] == "http://127.0.0.1:8123"
    assert facts["portal"] == f"http://127.0.0.1:8123/portal/signin?account={facts['account_id']}"
    assert len(facts["account_id"]) == 12 and facts["account_id"].isdigit()
    assert facts["access_key_id"].startswith("AKIA") and len(facts["secret_access_key"]) == 40
    assert facts["user_name"] == "admin"
    assert violations(facts["password"], AWS_DEFAULT_POLICY, "admin") == []
    profile = login_profile(data, facts["account_id"], "admin")
    assert profile is not None and profile["PasswordResetRequired"] is True
    assert signs_in(data, facts["account_id"], "admin", facts["password"])
    key_file = data / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (data / "selfiam.db").exists()

    code, out = run("init", "--data-dir", str(data), "--output", "json")
    assert code != 0
    assert "refusing to overwrite" in out
    assert facts["secret_access_key"] not in out
    assert facts["password"] not in out
    assert facts["password"].encode() not in (data / "selfiam.db").read_bytes()


def test_user_create_in_group_and_audit_trail(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert run("init", "--data-dir", data, "--output", "json")[0] == 0
    code, out = run("user", "create", "erin", "--group", "SelfService", "--data-dir", data)
    assert code == 0, out
    assert ":user/erin" in out and "SelfService" in out
    password = out.split("must be changed at sign-in): ", 1)[1].split()[0]
    account = out.split("arn:aws:iam::", 1)[1][:12]
    assert signs_in(Path(data), account, "erin", password)

    code, out = run("user", "create", "gina", "--no-password", "--data-dir", data)
    assert code == 0, out
    assert "password" not in out
    assert login_profile(Path(data), account, "gina") is None

    code, out = run("user", "create", "ERIN", "--data-dir", data)
    assert code != 0
    assert "EntityAlreadyExists" in out

    code, out = run("user", "create", "frank", "--group", "NoSuchGroup", "--data-dir", data)
    assert code != 0 and "NoSuchEntity" in out
    # All or nothing: no user frank was left behind without his group and password.
    code, out = run("user", "remove", "frank", "--dry-run", "--data-dir", data)
    assert code != 0 and "NoSuchEntity" in out

    code, out = run("audit", "--data-dir", data, "--action", "iam:CreateUser")
    assert code == 0
    lines = out.strip().splitlines()
    assert any(":root" in line and "user/erin" in line and "allowed" in line for line in lines)
    assert any("EntityAlreadyExists" in line for line in lines)


def test_init_secret_is_not_in_the_audit_trail(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    code, out = run("init", "--data-dir", data, "--output", "json")
    secret = json.loads(out)["secret_access_key"]
    code, out = run("audit", "--data-dir", data, "--limit", "1000")
    assert code == 0 and "iam:CreateAccessKey" in out
    assert secret not in out
    db = Path(data, "selfiam.db").read_bytes()
    assert secret.encode() not in db
