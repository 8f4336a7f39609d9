"""``selfiam role``: create, list, show and delete roles as root, on a real database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from selfiam.cli.main import cli
from selfiam.domain.errors import AwsError
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.factory import open_runtime
from selfiam.settings import Settings

STS_SCOPE = ("20261127", "us-east-1", "sts")
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


class Account:
    def __init__(self, data: Path) -> None:
        self.data = str(data)
        code, out = run("init", "--data-dir", self.data, "--output", "json")
        assert code == 0, out
        self.id = json.loads(out)["account_id"]

    def role(self, *args: str, stdin: str | None = None) -> tuple[int, str]:
        return run("role", *args, "--data-dir", self.data, stdin=stdin)

    def invoke(self, operation: str, caller: Caller | None = None, **params: Any) -> Any:
        runtime = open_runtime(Settings.from_env(data_dir=self.data))
        service = "sts" if operation == "AssumeRole" else "iam"
        try:
            info = RequestInfo(request_id="test", now=runtime.clock(), service=service)
            return runtime.invoke(service, operation, params, caller or Caller.root(self.id), info)
        finally:
            runtime.audit.flush()

    def caller(self, key_id: str, token: str | None = None) -> Caller | None:
        """Who the key authenticates as, or None when it is refused."""
        runtime = open_runtime(Settings.from_env(data_dir=self.data))
        try:
            return runtime.authenticate_access_key(key_id, STS_SCOPE, token)[0]
        except AwsError as err:
            assert err.code == "InvalidClientTokenId"
            return None

    def roles(self) -> list[str]:
        return [r["RoleName"] for r in self.invoke("ListRoles")["Roles"]]


@pytest.fixture()
def account(tmp_path: Path) -> Account:
    account = Account(tmp_path / "data")
    for name in ("alice", "bob"):
        assert run("user", "create", name, "--no-password", "--data-dir", account.data)[0] == 0
    return account


def test_create_trusts_the_users_and_attaches_the_policies(account: Account) -> None:
    code, out = account.role(
        "create",
        "deployer",
        "--trust-user",
        "alice",
        "--trust-user",
        "BOB",
        "--policy-arn",
        READ_ONLY,
        "--max-session-duration",
        "7200",
        "--path",
        "/ci/",
    )
    assert code == 0, out
    arn = f"arn:aws:iam::{account.id}:role/ci/deployer"
    assert f"created {arn}" in out
    assert f"trusts arn:aws:iam::{account.id}:user/bob" in out
    role = account.invoke("GetRole", RoleName="deployer")["Role"]
    assert role["MaxSessionDuration"] == 7200
    trust = json.loads(unquote(role["AssumeRolePolicyDocument"]))
    assert trust["Statement"][0]["Principal"]["AWS"] == [
        f"arn:aws:iam::{account.id}:user/alice",
        f"arn:aws:iam::{account.id}:user/bob",
    ]
    attached = account.invoke("ListAttachedRolePolicies", RoleName="deployer")
    assert [a["PolicyArn"] for a in attached["AttachedPolicies"]] == [READ_ONLY]

    code, out = account.role("list")
    assert code == 0 and "deployer" in out and arn in out and "max session 7200 s" in out
    code, out = account.role("show", "DEPLOYER")
    assert code == 0, out
    assert READ_ONLY in out and "last used: never" in out
    assert f'      "arn:aws:iam::{account.id}:user/alice",\n' in out  # the trust policy


def test_trust_file_and_trust_user_together(account: Account, tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    admitted = f"arn:aws:iam::{account.id}:user/bob"
    statement = {"Effect": "Allow", "Principal": {"AWS": admitted}, "Action": "sts:AssumeRole"}
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": statement}))
    code, out = account.role("create", "both", "--trust-file", str(path), "--trust-user", "alice")
    assert code == 0, out
    code, out = account.role("show", "both")
    assert admitted in out and f"arn:aws:iam::{account.id}:user/alice" in out


def test_a_refused_step_leaves_no_role(account: Account) -> None:
    code, out = account.role(
        "create", "half", "--trust-user", "alice", "--policy-arn", "arn:aws:iam::aws:policy/Nope"
    )
    assert code == 1
    assert "NoSuchEntity: Policy arn:aws:iam::aws:policy/Nope does not exist" in out
    assert account.roles() == []

    code, out = account.role("create", "nobody", "--trust-user", "carol")
    assert code == 1 and "NoSuchEntity: The user with name carol cannot be found." in out
    assert account.roles() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("bad name",),
            "ValidationError: 1 validation error detected: Value 'bad name' at 'roleName' "
            "failed to satisfy constraint: Member must satisfy regular expression pattern",
        ),
        (
            ("short", "--max-session-duration", "60"),
            "Value '60' at 'maxSessionDuration' failed to satisfy constraint: "
            "Member must have value greater than or equal to 3600",
        ),
        (
            ("x" * 65,),
            "Member must have length less than or equal to 64",
        ),
    ],
)
def test_bad_input_gets_aws_validation_error(
    account: Account, args: tuple[str, ...], message: str
) -> None:
    code, out = account.role("create", *args, "--trust-user", "alice")
    assert code == 1 and message in out, out
    assert account.roles() == []


def test_create_needs_someone_to_trust(account: Account) -> None:
    code, out = account.role("create", "lonely")
    assert code == 2 and "--trust-user" in out


def test_delete_removes_policies_and_role_together_and_ends_its_sessions(
    account: Account,
) -> None:
    assert account.role("create", "ops", "--trust-user", "alice", "--policy-arn", READ_ONLY)[0] == 0
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}],
        }
    )
    for name in ("one", "two"):
        account.invoke("PutRolePolicy", RoleName="ops", PolicyName=name, PolicyDocument=document)
    key = account.invoke("CreateAccessKey", UserName="alice")["AccessKey"]
    alice = account.caller(key["AccessKeyId"])
    assert alice is not None
    role_arn = f"arn:aws:iam::{account.id}:role/ops"
    creds = account.invoke("AssumeRole", alice, RoleArn=role_arn, RoleSessionName="s")[
        "Credentials"
    ]
    assert account.caller(creds["AccessKeyId"], creds["SessionToken"]) is not None

    code, out = account.role("delete", "ops", stdin="n\n")
    assert code == 1 and "Aborted" in out
    assert "DeleteRolePolicy: one" in out and f"DetachRolePolicy: {READ_ONLY}" in out
    assert account.roles() == ["ops"]

    code, out = account.role("delete", "OPS", "--yes")
    assert code == 0, out
    assert f"deleted {role_arn}" in out
    assert account.roles() == []
    assert account.caller(creds["AccessKeyId"], creds["SessionToken"]) is None
    code, out = account.role("delete", "ops", "--yes")
    assert code == 1 and "NoSuchEntity: The role with name ops cannot be found." in out


def test_a_control_character_is_refused_and_shown_escaped(account: Account) -> None:
    code, out = account.role(
        "create", "shown", "--trust-user", "alice", "--description", "a\x1b[2Jb"
    )
    assert code == 1 and "ValidationError" in out and "at 'description'" in out
    assert "\x1b" not in out and "a\\x1b[2Jb" in out
    assert account.roles() == []


def test_user_remove_lists_the_role_sessions_the_user_started(account: Account) -> None:
    assert account.role("create", "ops", "--trust-user", "alice", "--path", "/ci/")[0] == 0
    key = account.invoke("CreateAccessKey", UserName="alice")["AccessKey"]
    alice = account.caller(key["AccessKeyId"])
    assert alice is not None
    role_arn = f"arn:aws:iam::{account.id}:role/ci/ops"
    creds = account.invoke("AssumeRole", alice, RoleArn=role_arn, RoleSessionName="deploy-1")[
        "Credentials"
    ]
    code, out = run("user", "remove", "alice", "--dry-run", "--data-dir", account.data)
    assert code == 0, out
    assert "Role sessions they started (AssumeRole, chains included):" in out
    assert f"{creds['AccessKeyId']} as {role_arn} session deploy-1 (expires" in out
    assert "STS sessions" not in out  # no GetSessionToken session: that section is left out

    assert run("user", "remove", "alice", "--yes", "--data-dir", account.data)[0] == 0
    assert account.caller(creds["AccessKeyId"], creds["SessionToken"]) is None


@pytest.mark.parametrize("text", ["{not json", '{"Statement": "x"}', "[1, 2]"])
def test_a_malformed_trust_file_is_awss_error(account: Account, tmp_path: Path, text: str) -> None:
    path = tmp_path / "trust.json"
    path.write_text(text)
    code, out = account.role("create", "bad", "--trust-file", str(path), "--trust-user", "alice")
    assert code == 1 and "MalformedPolicyDocument" in out, out
    assert account.roles() == []
