"""Service-specific credentials and server certificates over HTTP, against a live server:
boto3 (on SQLite and PostgreSQL) and the real aws CLI (``file://`` PEM files)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer
from support.server_certs import ec_key, key_pem, upload

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))
OWN = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "iam:CreateServiceSpecificCredential",
                "iam:ListServiceSpecificCredentials",
                "iam:ResetServiceSpecificCredential",
                "iam:UpdateServiceSpecificCredential",
                "iam:DeleteServiceSpecificCredential",
            ],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        }
    ],
}


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.fixture(scope="module")
def clients(server: LiveServer) -> dict[str, Any]:
    admin = server.client()
    out: dict[str, Any] = {"admin": admin}
    for name in ("alice", "bob"):
        admin.create_user(UserName=name)
        admin.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=json.dumps(OWN))
        key = admin.create_access_key(UserName=name)["AccessKey"]
        out[name] = server.client(key["AccessKeyId"], key["SecretAccessKey"])
    out["account"] = admin.get_user(UserName="alice")["User"]["Arn"].split(":")[4]
    return out


def test_service_specific_credential_lifecycle(clients: dict[str, Any]) -> None:
    alice, account = clients["alice"], clients["account"]
    cred = alice.create_service_specific_credential(
        UserName="alice", ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    assert cred["ServiceUserName"] == f"alice-at-{account}"
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", cred["ServicePassword"])
    assert re.fullmatch(r"ACCA[A-Z2-7]{17}", cred["ServiceSpecificCredentialId"])
    cred_id = cred["ServiceSpecificCredentialId"]

    listed = alice.list_service_specific_credentials()["ServiceSpecificCredentials"]
    assert [c["ServiceSpecificCredentialId"] for c in listed] == [cred_id]
    assert "ServicePassword" not in listed[0]

    reset = alice.reset_service_specific_credential(ServiceSpecificCredentialId=cred_id)
    assert reset["ServiceSpecificCredential"]["ServicePassword"] != cred["ServicePassword"]
    alice.update_service_specific_credential(ServiceSpecificCredentialId=cred_id, Status="Inactive")
    listed = alice.list_service_specific_credentials()["ServiceSpecificCredentials"]
    assert listed[0]["Status"] == "Inactive"

    key = alice.create_service_specific_credential(
        UserName="alice", ServiceName="bedrock.amazonaws.com", CredentialAgeDays=7
    )["ServiceSpecificCredential"]
    assert key["ServiceCredentialSecret"].startswith("ABSK") and "ExpirationDate" in key

    with pytest.raises(ClientError) as exc:
        alice.create_service_specific_credential(UserName="alice", ServiceName="s3.amazonaws.com")
    assert error_of(exc) == (
        "NotSupportedService",
        "Service s3.amazonaws.com is not supported for service-specific credentials.",
        404,
    )
    alice.create_service_specific_credential(
        UserName="alice", ServiceName="codecommit.amazonaws.com"
    )
    with pytest.raises(ClientError) as exc:
        alice.create_service_specific_credential(
            UserName="alice", ServiceName="codecommit.amazonaws.com"
        )
    assert error_of(exc)[0::2] == ("LimitExceeded", 409)

    with pytest.raises(ClientError) as exc:
        clients["admin"].delete_user(UserName="alice")
    assert error_of(exc)[0::2] == ("DeleteConflict", 409)

    # bob can neither list, reset, update nor delete alice's credential
    bob = clients["bob"]
    for call, kw in (
        (bob.list_service_specific_credentials, {}),
        (bob.reset_service_specific_credential, {"ServiceSpecificCredentialId": cred_id}),
        (
            bob.update_service_specific_credential,
            {"ServiceSpecificCredentialId": cred_id, "Status": "Active"},
        ),
        (bob.delete_service_specific_credential, {"ServiceSpecificCredentialId": cred_id}),
    ):
        with pytest.raises(ClientError) as exc:
            call(UserName="alice", **kw)
        assert error_of(exc)[0::2] == ("AccessDenied", 403)
    with pytest.raises(ClientError) as exc:
        bob.delete_service_specific_credential(ServiceSpecificCredentialId=cred_id)
    assert error_of(exc)[0::2] == ("NoSuchEntity", 404)
    assert len(alice.list_service_specific_credentials()["ServiceSpecificCredentials"]) == 3


def test_server_certificate_lifecycle(clients: dict[str, Any]) -> None:
    admin, account = clients["admin"], clients["account"]
    up = upload()
    meta = admin.upload_server_certificate(
        Path="/cloudfront/",
        ServerCertificateName="web",
        CertificateBody=up.body,
        PrivateKey=up.private_key,
        CertificateChain=up.chain,
        Tags=[{"Key": "env", "Value": "prod"}],
    )["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{account}:server-certificate/cloudfront/web"
    assert meta["ServerCertificateId"].startswith("ASCA")
    got = admin.get_server_certificate(ServerCertificateName="web")["ServerCertificate"]
    assert got["CertificateBody"] == up.body and got["CertificateChain"] == up.chain
    assert got["ServerCertificateMetadata"]["Expiration"].year == 2028
    assert got["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert "PRIVATE KEY" not in json.dumps(got, default=str)
    listed = admin.list_server_certificates(PathPrefix="/cloudfront/")
    assert [m["ServerCertificateName"] for m in listed["ServerCertificateMetadataList"]] == ["web"]

    with pytest.raises(ClientError) as exc:
        admin.upload_server_certificate(
            ServerCertificateName="bad",
            CertificateBody=up.body,
            PrivateKey=key_pem(ec_key()),
        )
    assert error_of(exc) == (
        "KeyPairMismatch",
        "The public key certificate and the private key do not match.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        admin.upload_server_certificate(
            ServerCertificateName="web", CertificateBody=up.body, PrivateKey=up.private_key
        )
    assert error_of(exc)[0::2] == ("EntityAlreadyExists", 409)

    admin.update_server_certificate(ServerCertificateName="web", NewServerCertificateName="www")
    admin.untag_server_certificate(ServerCertificateName="www", TagKeys=["env"])
    assert admin.list_server_certificate_tags(ServerCertificateName="www")["Tags"] == []
    admin.delete_server_certificate(ServerCertificateName="www")
    with pytest.raises(ClientError) as exc:
        admin.get_server_certificate(ServerCertificateName="www")
    assert error_of(exc) == (
        "NoSuchEntity",
        "The Server Certificate with name www cannot be found.",
        404,
    )
    with pytest.raises(ClientError) as exc:
        clients["bob"].list_server_certificates()
    assert error_of(exc)[0::2] == ("AccessDenied", 403)


def aws(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AWS, *args, "--endpoint-url", server.endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=server.cli_env(),
        timeout=120,
    )


def test_the_aws_cli(sqlite_server: LiveServer, tmp_path: Path) -> None:
    up = upload()
    for name, text in (("cert.pem", up.body), ("key.pem", up.private_key), ("chain.pem", up.chain)):
        (tmp_path / name).write_text(text)
    done = aws(
        sqlite_server, "iam", "upload-server-certificate",
        "--server-certificate-name", "cli-web",
        "--certificate-body", f"file://{tmp_path / 'cert.pem'}",
        "--private-key", f"file://{tmp_path / 'key.pem'}",
        "--certificate-chain", f"file://{tmp_path / 'chain.pem'}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ServerCertificateMetadata"]["ServerCertificateName"] == "cli-web"
    listed = aws(sqlite_server, "iam", "list-server-certificates")
    assert "cli-web" in listed.stdout
    got = aws(sqlite_server, "iam", "get-server-certificate", "--server-certificate-name", "cli-web")
    assert json.loads(got.stdout)["ServerCertificate"]["CertificateBody"] == up.body
    aws(sqlite_server, "iam", "create-user", "--user-name", "cli-dev")
    made = aws(
        sqlite_server, "iam", "create-service-specific-credential",
        "--user-name", "cli-dev", "--service-name", "cassandra.amazonaws.com",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    cred_id = json.loads(made.stdout)["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    listed = aws(sqlite_server, "iam", "list-service-specific-credentials", "--user-name", "cli-dev")
    assert cred_id in listed.stdout and "ServicePassword" not in listed.stdout
    refused = aws(
        sqlite_server, "iam", "create-service-specific-credential",
        "--user-name", "cli-dev", "--service-name", "ec2.amazonaws.com",
    )  # fmt: skip
    assert refused.returncode != 0 and "NotSupportedService" in refused.stderr
    gone = aws(
        sqlite_server, "iam", "delete-service-specific-credential",
        "--user-name", "cli-dev", "--service-specific-credential-id", cred_id,
    )  # fmt: skip
    assert gone.returncode == 0, gone.stderr
