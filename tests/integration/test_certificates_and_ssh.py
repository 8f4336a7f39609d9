"""Signing certificates and SSH public keys over HTTP with boto3, against a live server.

alice and bob are in a group whose policy (made here, not the stock SelfService
one) allows the certificate and SSH-key actions on ``user/${aws:username}`` only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.domain.test_certificates import make_certificate
from tests.domain.test_ssh_keys import ed25519_public_key, expected_md5, openssh, spki_pem

from support.server import LiveServer

pytestmark = pytest.mark.slow

ACTIONS = [
    "iam:UploadSigningCertificate",
    "iam:ListSigningCertificates",
    "iam:UpdateSigningCertificate",
    "iam:DeleteSigningCertificate",
    "iam:UploadSSHPublicKey",
    "iam:GetSSHPublicKey",
    "iam:ListSSHPublicKeys",
    "iam:UpdateSSHPublicKey",
    "iam:DeleteSSHPublicKey",
]
OWN_CREDENTIALS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ACTIONS, "Resource": "arn:aws:iam::*:user/${aws:username}"}
    ],
}


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    err = response["Error"]
    return err["Code"], err["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def denied(account: str, user: str, action: str, target: str) -> str:
    return (
        f"User: arn:aws:iam::{account}:user/{user} is not authorized to perform: {action} "
        f"on resource: arn:aws:iam::{account}:user/{target} because no identity-based policy "
        f"allows the {action} action"
    )


@pytest.fixture(scope="module")
def clients(sqlite_server: LiveServer) -> dict[str, Any]:
    admin = sqlite_server.client()
    policy = admin.create_policy(
        PolicyName="OwnCertificatesAndSSHKeys", PolicyDocument=json.dumps(OWN_CREDENTIALS)
    )["Policy"]
    admin.create_group(GroupName="CredentialOwners")
    admin.attach_group_policy(GroupName="CredentialOwners", PolicyArn=policy["Arn"])
    out: dict[str, Any] = {"admin": admin}
    for name in ("alice", "bob"):
        admin.create_user(UserName=name)
        admin.add_user_to_group(GroupName="CredentialOwners", UserName=name)
        key = admin.create_access_key(UserName=name)["AccessKey"]
        out[name] = sqlite_server.client(key["AccessKeyId"], key["SecretAccessKey"])
    return out


def test_signing_certificate_lifecycle(clients: dict[str, Any]) -> None:
    alice = clients["alice"]
    body = make_certificate(common_name="alice")
    cert = alice.upload_signing_certificate(CertificateBody=body)["Certificate"]
    assert cert["UserName"] == "alice"
    assert cert["Status"] == "Active"
    assert cert["CertificateBody"] == body
    cert_id = cert["CertificateId"]

    listed = alice.list_signing_certificates()
    assert listed["IsTruncated"] is False
    assert [(c["CertificateId"], c["CertificateBody"]) for c in listed["Certificates"]] == [
        (cert_id, body)
    ]

    alice.update_signing_certificate(CertificateId=cert_id, Status="Inactive")
    statuses = [c["Status"] for c in alice.list_signing_certificates()["Certificates"]]
    assert statuses == ["Inactive"]

    with pytest.raises(ClientError) as exc:
        alice.upload_signing_certificate(CertificateBody="invalid-certificate-body")
    assert error_of(exc) == (
        "MalformedCertificate",
        "Certificate invalid-certificate-body is malformed.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        clients["bob"].upload_signing_certificate(CertificateBody=body)
    assert error_of(exc)[0::2] == ("DuplicateCertificate", 409)

    alice.upload_signing_certificate(CertificateBody=make_certificate(common_name="alice 2"))
    with pytest.raises(ClientError) as exc:
        alice.upload_signing_certificate(CertificateBody=make_certificate(common_name="alice 3"))
    assert error_of(exc) == ("LimitExceeded", "Cannot exceed quota for CertificatesPerUser: 2", 409)

    for c in alice.list_signing_certificates()["Certificates"]:
        alice.delete_signing_certificate(CertificateId=c["CertificateId"])
    assert alice.list_signing_certificates()["Certificates"] == []
    with pytest.raises(ClientError) as exc:
        alice.delete_signing_certificate(CertificateId=cert_id)
    assert error_of(exc) == (
        "NoSuchEntity",
        f"The Certificate with id {cert_id} cannot be found.",
        404,
    )


def test_ssh_public_key_lifecycle(clients: dict[str, Any]) -> None:
    alice = clients["alice"]
    pub = ed25519_public_key()
    body = openssh(pub) + " alice@laptop"
    key = alice.upload_ssh_public_key(UserName="alice", SSHPublicKeyBody=body)["SSHPublicKey"]
    key_id = key["SSHPublicKeyId"]
    assert key_id.startswith("APKA") and len(key_id) == 20
    assert key["Fingerprint"] == expected_md5(body)
    assert (key["UserName"], key["Status"], key["SSHPublicKeyBody"]) == ("alice", "Active", body)

    as_ssh = alice.get_ssh_public_key(UserName="alice", SSHPublicKeyId=key_id, Encoding="SSH")
    assert as_ssh["SSHPublicKey"]["SSHPublicKeyBody"] == openssh(pub)
    assert as_ssh["SSHPublicKey"]["Fingerprint"] == key["Fingerprint"]
    as_pem = alice.get_ssh_public_key(UserName="alice", SSHPublicKeyId=key_id, Encoding="PEM")
    assert as_pem["SSHPublicKey"]["SSHPublicKeyBody"] == spki_pem(pub)

    listed = alice.list_ssh_public_keys()["SSHPublicKeys"]
    assert [(k["SSHPublicKeyId"], k["UserName"], k["Status"]) for k in listed] == [
        (key_id, "alice", "Active")
    ]

    with pytest.raises(ClientError) as exc:
        alice.upload_ssh_public_key(UserName="alice", SSHPublicKeyBody=spki_pem(pub))
    assert error_of(exc)[0::2] == ("DuplicateSSHPublicKey", 400)
    with pytest.raises(ClientError) as exc:
        alice.upload_ssh_public_key(UserName="alice", SSHPublicKeyBody="not a key")
    assert error_of(exc)[0::2] == ("UnrecognizedPublicKeyEncoding", 400)

    alice.update_ssh_public_key(UserName="alice", SSHPublicKeyId=key_id, Status="Inactive")
    got = alice.get_ssh_public_key(UserName="alice", SSHPublicKeyId=key_id, Encoding="SSH")
    assert got["SSHPublicKey"]["Status"] == "Inactive"

    alice.delete_ssh_public_key(UserName="alice", SSHPublicKeyId=key_id)
    assert alice.list_ssh_public_keys()["SSHPublicKeys"] == []
    with pytest.raises(ClientError) as exc:
        alice.get_ssh_public_key(UserName="alice", SSHPublicKeyId=key_id, Encoding="SSH")
    assert error_of(exc) == (
        "NoSuchEntity",
        f"The Public Key with id {key_id} cannot be found.",
        404,
    )


def test_alice_cannot_touch_bobs_credentials(
    sqlite_server: LiveServer, clients: dict[str, Any]
) -> None:
    acct = sqlite_server.account_id
    alice, bob = clients["alice"], clients["bob"]
    bobs_key = bob.upload_ssh_public_key(
        UserName="bob", SSHPublicKeyBody=openssh(ed25519_public_key())
    )["SSHPublicKey"]["SSHPublicKeyId"]
    bobs_cert = bob.upload_signing_certificate(CertificateBody=make_certificate(common_name="bob"))[
        "Certificate"
    ]["CertificateId"]

    with pytest.raises(ClientError) as exc:
        alice.get_ssh_public_key(UserName="bob", SSHPublicKeyId=bobs_key, Encoding="SSH")
    assert error_of(exc) == (
        "AccessDenied",
        denied(acct, "alice", "iam:GetSSHPublicKey", "bob"),
        403,
    )
    with pytest.raises(ClientError) as exc:
        alice.upload_signing_certificate(
            UserName="bob", CertificateBody=make_certificate(common_name="mallory")
        )
    assert error_of(exc) == (
        "AccessDenied",
        denied(acct, "alice", "iam:UploadSigningCertificate", "bob"),
        403,
    )
    with pytest.raises(ClientError) as exc:
        alice.list_ssh_public_keys(UserName="bob")
    assert error_of(exc)[0] == "AccessDenied"

    # Under her own name, bob's ids do not exist for her.
    with pytest.raises(ClientError) as exc:
        alice.delete_ssh_public_key(UserName="alice", SSHPublicKeyId=bobs_key)
    assert error_of(exc)[0::2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as exc:
        alice.update_signing_certificate(CertificateId=bobs_cert, Status="Inactive")
    assert error_of(exc) == (
        "NoSuchEntity",
        f"The Certificate with id {bobs_cert} cannot be found.",
        404,
    )

    admin = clients["admin"]
    key = admin.get_ssh_public_key(UserName="bob", SSHPublicKeyId=bobs_key, Encoding="SSH")
    assert key["SSHPublicKey"]["Status"] == "Active"
    assert [
        c["Status"] for c in admin.list_signing_certificates(UserName="bob")["Certificates"]
    ] == ["Active"]
