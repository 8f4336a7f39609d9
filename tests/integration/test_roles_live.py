"""Roles and AssumeRole over HTTP: boto3 and the aws CLI (a ``role_arn`` profile) against a
live server, on SQLite and on PostgreSQL (see conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from support.mfa import Authenticator
from support.server import LiveServer

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))
INVALID = "The security token included in the request is invalid."
READ_ROLES = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:GetRole", "iam:ListRoles"], "Resource": "*"}
        ],
    }
)


def _error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def setup(server: LiveServer) -> dict[str, Any]:
    """rita (a user with a key) and the role ``deployer`` that trusts her by ARN."""
    iam = server.client()
    rita = iam.create_user(UserName="rita")["User"]
    key = iam.create_access_key(UserName="rita")["AccessKey"]
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": rita["Arn"]}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    role = iam.create_role(
        RoleName="deployer",
        Path="/ci/",
        AssumeRolePolicyDocument=trust,
        Description="CI deploys",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "ops"}],
    )["Role"]
    iam.put_role_policy(RoleName="deployer", PolicyName="read", PolicyDocument=READ_ROLES)
    return {"rita": rita, "key": key, "role": role, "trust": trust}


def test_role_operations_parse_in_boto3(server: LiveServer, setup: dict[str, Any]) -> None:
    iam = server.client()
    role = iam.get_role(RoleName="DEPLOYER")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{server.account_id}:role/ci/deployer"
    assert role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 7200
    assert role["Tags"] == [{"Key": "team", "Value": "ops"}]
    document = role["AssumeRolePolicyDocument"]  # boto3 decodes it into a dict
    assert (json.loads(unquote(document)) if isinstance(document, str) else document) == (
        json.loads(setup["trust"])
    )
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/ci/")["Roles"]] == ["deployer"]
    assert iam.list_role_policies(RoleName="deployer")["PolicyNames"] == ["read"]
    with pytest.raises(ClientError) as err:
        iam.create_role(RoleName="Deployer", AssumeRolePolicyDocument=setup["trust"])
    assert _error(err) == ("EntityAlreadyExists", "Role with name Deployer already exists.")
    with pytest.raises(ClientError) as err:
        iam.create_role(
            RoleName="nobody",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}],
                }
            ),
        )
    assert _error(err)[0] == "MalformedPolicyDocument"


def test_assume_role_and_act_as_the_session(server: LiveServer, setup: dict[str, Any]) -> None:
    key = setup["key"]
    sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], service="sts")
    role_arn = setup["role"]["Arn"]
    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="build-42", DurationSeconds=1800)
    session_arn = f"arn:aws:sts::{server.account_id}:assumed-role/deployer/build-42"
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{setup['role']['RoleId']}:build-42",
        "Arn": session_arn,
    }
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    as_role = (creds["AccessKeyId"], creds["SecretAccessKey"])
    me = server.client(*as_role, service="sts", token=creds["SessionToken"])
    assert me.get_caller_identity()["Arn"] == session_arn
    iam = server.client(*as_role, token=creds["SessionToken"])
    assert iam.get_role(RoleName="deployer")["Role"]["RoleName"] == "deployer"
    with pytest.raises(ClientError) as err:
        iam.create_user(UserName="mallory")
    assert _error(err) == (
        "AccessDenied",
        f"User: {session_arn} is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{server.account_id}:user/mallory because no identity-based policy "
        "allows the iam:CreateUser action",
    )
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="long", DurationSeconds=7201)
    assert _error(err) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    with pytest.raises(ClientError) as err:
        server.client(service="sts").assume_role(RoleArn=role_arn, RoleSessionName="admin")
    assert _error(err)[0] == "AccessDenied"


def _cli(server: LiveServer, tmp_path: Path, setup: dict[str, Any], *args: str) -> Any:
    """Run the aws CLI with a profile that assumes the role from rita's profile."""
    key = setup["key"]
    config = tmp_path / "config"
    config.write_text(
        "[profile rita]\n"
        f"endpoint_url = {server.endpoint}\n"
        "region = us-east-1\n"
        "[profile deploy]\n"
        f"role_arn = {setup['role']['Arn']}\n"
        "source_profile = rita\n"
        "role_session_name = cli\n"
        f"endpoint_url = {server.endpoint}\n"
        "region = us-east-1\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[rita]\n"
        f"aws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    env = server.cli_env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials))
    done = subprocess.run(
        [AWS, *args, "--profile", "deploy", "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_aws_cli_role_profile(server: LiveServer, setup: dict[str, Any], tmp_path: Path) -> None:
    me = _cli(server, tmp_path, setup, "sts", "get-caller-identity")
    assert me["Arn"] == f"arn:aws:sts::{server.account_id}:assumed-role/deployer/cli"
    roles = _cli(server, tmp_path, setup, "iam", "list-roles")
    assert "deployer" in {r["RoleName"] for r in roles["Roles"]}


def test_deleting_the_role_ends_its_sessions(server: LiveServer, setup: dict[str, Any]) -> None:
    key = setup["key"]
    sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], service="sts")
    creds = sts.assume_role(RoleArn=setup["role"]["Arn"], RoleSessionName="last")["Credentials"]
    session = server.client(
        creds["AccessKeyId"],
        creds["SecretAccessKey"],
        service="sts",
        token=creds["SessionToken"],
    )
    assert session.get_caller_identity()["Arn"].endswith("assumed-role/deployer/last")
    iam = server.client()
    with pytest.raises(ClientError) as err:
        iam.delete_role(RoleName="deployer")
    assert _error(err) == ("DeleteConflict", "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName="deployer", PolicyName="read")
    iam.delete_role(RoleName="deployer")
    with pytest.raises(ClientError) as err:
        session.get_caller_identity()
    assert _error(err) == ("InvalidClientTokenId", INVALID)


def test_aws_cli_profile_with_mfa_serial(server: LiveServer, tmp_path: Path) -> None:
    """A role_arn profile with mfa_serial, unmodified: the CLI asks for the code (read from
    standard input when there is no terminal), AssumeRole checks it, and a trust policy
    requiring MFA admits the session; a wrong code is refused."""
    iam = server.client()
    mona = iam.create_user(UserName="mona")["User"]
    key = iam.create_access_key(UserName="mona")["AccessKey"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="mona")["VirtualMFADevice"]
    app = Authenticator(device["Base32StringSeed"].decode())
    iam.enable_mfa_device(
        UserName="mona", SerialNumber=device["SerialNumber"], **app.enable_codes()
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": mona["Arn"]},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    role = iam.create_role(RoleName="breakglass", AssumeRolePolicyDocument=json.dumps(trust))
    config = tmp_path / "config"
    config.write_text(
        "[profile mona]\n"
        f"endpoint_url = {server.endpoint}\n"
        "region = us-east-1\n"
        "[profile breakglass]\n"
        f"role_arn = {role['Role']['Arn']}\n"
        "source_profile = mona\n"
        f"mfa_serial = {device['SerialNumber']}\n"
        f"endpoint_url = {server.endpoint}\n"
        "region = us-east-1\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[mona]\n"
        f"aws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    env = server.cli_env()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials))

    def caller_identity(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AWS, "sts", "get-caller-identity", "--profile", "breakglass", "--output", "json"],
            input=code + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            start_new_session=True,  # no terminal: the MFA prompt reads standard input
        )

    near = {app.code(step) for step in range(app.step - 2, app.step + 4)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in near)
    refused = caller_identity(wrong)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr
    done = caller_identity(app.next_code())
    assert done.returncode == 0, done.stderr
    me = json.loads(done.stdout)
    assert me["Arn"].startswith(f"arn:aws:sts::{server.account_id}:assumed-role/breakglass/")
