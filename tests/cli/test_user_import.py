"""``selfiam user import``: many users, each all-or-nothing, passwords to a new 0600 file."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from selfiam.cli.main import cli
from selfiam.domain.errors import AwsError
from selfiam.service.audit import read_records
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.factory import account_of, open_runtime
from selfiam.service.passwords import verify_login
from selfiam.settings import Settings


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def as_root(
    data: Path, operation: str, database_url: str | None = None, **params: Any
) -> dict[str, Any] | str:
    """The operation's answer as root, or its error code."""
    runtime = open_runtime(Settings.from_env(data_dir=str(data), database_url=database_url))
    account = account_of(runtime)
    assert account is not None
    try:
        info = RequestInfo(request_id="test", now=runtime.clock())
        return runtime.invoke("iam", operation, params, Caller.root(account), info)
    except AwsError as err:
        return err.code
    finally:
        runtime.audit.flush()
        runtime.close()  # PostgreSQL: its change feed, before the test's database goes


def init(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    assert run("init", "--data-dir", str(data), "--output", "json")[0] == 0
    return data


def test_csv_import_creates_users_whole_and_reports_the_others(tmp_path: Path) -> None:
    data = init(tmp_path)
    source = tmp_path / "team.csv"
    source.write_text(
        "name,path,groups,tags,password\n"
        "ann,/eng/,SelfService,team=a;cost=1,yes\n"
        "bob,,,,no\n"
        "cid,,SelfService;NoSuchGroup,,yes\n"  # refused at its second group: no cid at all
        ",,,,\n"
        "dan,,,,maybe\n"
    )
    code, out = run("user", "import", str(source), "--data-dir", str(data), "--no-progress")
    assert code == 1
    assert "created 2 of 5 users" in out
    assert "cid: NoSuchEntity: The group with name NoSuchGroup cannot be found." in out
    assert "5: : ValidationError: a user needs a name" in out

    ann = as_root(data, "GetUser", UserName="ann")
    assert isinstance(ann, dict) and ann["User"]["Path"] == "/eng/"
    tags = as_root(data, "ListUserTags", UserName="ann")
    assert isinstance(tags, dict)
    assert {t["Key"]: t["Value"] for t in tags["Tags"]} == {"team": "a", "cost": "1"}
    groups = as_root(data, "ListGroupsForUser", UserName="ann")
    assert isinstance(groups, dict) and [g["GroupName"] for g in groups["Groups"]] == [
        "SelfService"
    ]
    assert as_root(data, "GetLoginProfile", UserName="bob") == "NoSuchEntity"
    assert as_root(data, "GetUser", UserName="cid") == "NoSuchEntity"

    passwords = tmp_path / "team.passwords.csv"
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    rows = list(csv.reader(passwords.open()))
    assert rows[0] == ["name", "password"] and [r[0] for r in rows[1:]] == ["ann"]
    runtime = open_runtime(Settings.from_env(data_dir=str(data)))
    account = account_of(runtime)
    assert account is not None
    signed = verify_login(runtime, account, "ann", rows[1][1], runtime.clock())
    assert signed is not None and signed.must_change_password
    assert rows[1][1] not in out

    trail = read_records(runtime.engine, action="iam:CreateUser", limit=10)
    runtime.audit.flush()
    assert {r.resource.rsplit("/", 1)[-1] for r in trail if r.decision == "allowed"} >= {
        "ann",
        "bob",
    }


def test_import_refuses_to_overwrite_the_passwords_file(tmp_path: Path) -> None:
    data = init(tmp_path)
    source = tmp_path / "team.json"
    source.write_text(json.dumps([{"name": "eve", "groups": [], "tags": {"k": "v"}}]))
    existing = tmp_path / "secrets.csv"
    existing.write_text("keep me\n")
    code, out = run(
        "user", "import", str(source), "--passwords-file", str(existing), "--data-dir", str(data)
    )
    assert code != 0 and "refusing to overwrite" in out
    assert existing.read_text() == "keep me\n"
    assert as_root(data, "GetUser", UserName="eve") == "NoSuchEntity"


def test_json_import_without_passwords_writes_no_file(tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "data"
    where = ("--data-dir", str(data), "--database-url", db_url)
    assert run("init", *where, "--output", "json")[0] == 0
    source = tmp_path / "bots.json"
    entries = [{"name": f"bot{i}", "password": False, "path": "/ci/"} for i in range(3)]
    entries.append({"name": "bot0", "password": False})
    source.write_text(json.dumps(entries))
    code, out = run("user", "import", str(source), *where, "--no-progress")
    assert code == 1, out
    assert "created 3 of 4 users" in out
    assert "4: bot0: EntityAlreadyExists: User with name bot0 already exists." in out
    assert not (tmp_path / "bots.passwords.csv").exists()
    listed = as_root(data, "ListUsers", db_url, PathPrefix="/ci/")
    assert isinstance(listed, dict) and len(listed["Users"]) == 3
