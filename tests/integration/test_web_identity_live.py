"""A CI job reaches a live selfiam with its OIDC token and no stored secret.

A real HTTPS issuer on loopback (its own CA, given to ``selfiam serve`` as
``SSL_CERT_FILE``), a provider and a role made with boto3, then boto3's own
``AssumeRoleWithWebIdentityProvider`` in a fresh process whose environment holds only
the token file, the role ARN, the session name and the endpoints. Unsigned requests
are accepted for AssumeRoleWithWebIdentity only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.oidc_issuer import AUDIENCE, Issuer, running_issuer
from support.postgres import fresh_database
from support.server import LiveServer, live_server

SCRIPT = """
import json, boto3
session = boto3.Session()
identity = session.client("sts").get_caller_identity()
users = session.client("iam").list_users()["Users"]
print(json.dumps({"arn": identity["Arn"], "users": len(users)}))
"""


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    with running_issuer(tmp_path_factory.mktemp("issuer")) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, issuer: Issuer
) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("selfiam-data")
    env = {"SSL_CERT_FILE": str(issuer.ca_file)}
    if request.param == "sqlite":
        with live_server(data_dir, env=env) as srv:
            yield srv
    else:
        with fresh_database() as url, live_server(data_dir, url, env=env) as srv:
            yield srv


@pytest.fixture(scope="module")
def role_arn(server: LiveServer, issuer: Issuer) -> str:
    iam = server.client()
    provider = iam.create_open_id_connect_provider(Url=issuer.url, ClientIDList=[AUDIENCE])[
        "OpenIDConnectProviderArn"
    ]
    name = issuer.provider_name
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{name}:aud": AUDIENCE},
                    "StringLike": {f"{name}:sub": "repo:org/repo:ref:refs/heads/*"},
                },
            }
        ],
    }
    role = iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=json.dumps(trust))
    read = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="deploy", PolicyName="read", PolicyDocument=json.dumps(read))
    return str(role["Role"]["Arn"])


def _post(server: LiveServer, form: dict[str, str]) -> tuple[int, str]:
    """An unsigned Query request, as boto3 sends AssumeRoleWithWebIdentity."""
    body = urllib.parse.urlencode({**form, "Version": "2011-06-15"}).encode()
    request = urllib.request.Request(
        server.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_boto3_web_identity_provider_unmodified(
    server: LiveServer, issuer: Issuer, role_arn: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(issuer.token())
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(tmp_path),
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_ROLE_ARN": role_arn,
        "AWS_ROLE_SESSION_NAME": "pipeline-7",
        "AWS_ENDPOINT_URL_STS": server.endpoint,
        "AWS_ENDPOINT_URL_IAM": server.endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["arn"] == f"arn:aws:sts::{server.account_id}:assumed-role/deploy/pipeline-7"
    assert out["users"] >= 1


def test_unsigned_requests_only_for_web_identity(
    server: LiveServer, issuer: Issuer, role_arn: str
) -> None:
    for action in ("GetCallerIdentity", "ListUsers", "AssumeRole"):
        status, body = _post(server, {"Action": action})
        assert status == 403 and "MissingAuthenticationToken" in body, body
    status, body = _post(
        server,
        {
            "Action": "AssumeRoleWithWebIdentity",
            "RoleArn": role_arn,
            "RoleSessionName": "pr",
            "WebIdentityToken": issuer.token(sub="repo:org/repo:pull_request"),
        },
    )
    assert status == 403, body
    assert "<Code>AccessDenied</Code>" in body
    assert "Not authorized to perform sts:AssumeRoleWithWebIdentity" in body
    status, body = _post(
        server,
        {
            "Action": "AssumeRoleWithWebIdentity",
            "RoleArn": role_arn,
            "RoleSessionName": "forged",
            "WebIdentityToken": issuer.token(aud="elsewhere"),
        },
    )
    assert status == 400 and "<Code>InvalidIdentityToken</Code>" in body, body


def test_aws_cli_profile_with_a_web_identity_token_file(
    server: LiveServer, issuer: Issuer, role_arn: str, tmp_path: Path
) -> None:
    """An aws CLI profile with role_arn and web_identity_token_file, unmodified."""
    token_file = tmp_path / "token"
    token_file.write_text(issuer.token())
    config = tmp_path / "config"
    config.write_text(
        "[profile pipeline]\n"
        f"role_arn = {role_arn}\n"
        f"web_identity_token_file = {token_file}\n"
        "role_session_name = pipeline-8\n"
        f"endpoint_url = {server.endpoint}\n"
        "region = us-east-1\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    aws = str(Path(sys.executable).with_name("aws"))
    done = subprocess.run(
        [aws, "sts", "get-caller-identity", "--profile", "pipeline", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    arn = json.loads(done.stdout)["Arn"]
    assert arn == f"arn:aws:sts::{server.account_id}:assumed-role/deploy/pipeline-8"
