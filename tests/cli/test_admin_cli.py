"""The admin commands: init, user create, audit — on a real database in a temp data dir."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner

from selfiam.cli.main import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_init_prints_credentials_once_and_refuses_to_overwrite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = run("init", "--data-dir", str(data), "--output", "json", "--port", "8123")
    assert code == 0, out
    facts = json.loads(out)
    assert set(facts) == {
        "endpoint",
        "account_id",
        "user_name",
        "access_key_id",
        "secret_access_key",
    }
    assert facts["endpoint"] == "http://127.0.0.1:8123"
    assert len(facts["account_id"]) == 12 and facts["account_id"].isdigit()
    assert facts["access_key_id"].startswith("AKIA") and len(facts["secret_access_key"]) == 40
    assert facts["user_name"] == "admin"
    key_file = data / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (data / "selfiam.db").exists()

    code, out = run("init", "--data-dir", str(data), "--output", "json")
    assert code != 0
    assert "refusing to overwrite" in out
    assert facts["secret_access_key"] not in out


def test_user_create_in_group_and_audit_trail(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert run("init", "--data-dir", data, "--output", "json")[0] == 0
    code, out = run("user", "create", "erin", "--group", "SelfService", "--data-dir", data)
    assert code == 0, out
    assert ":user/erin" in out and "SelfService" in out

    code, out = run("user", "create", "ERIN", "--data-dir", data)
    assert code != 0
    assert "EntityAlreadyExists" in out

    code, out = run("user", "create", "frank", "--group", "NoSuchGroup", "--data-dir", data)
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
