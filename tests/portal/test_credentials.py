"""My security credentials: every action runs as the member and the policy engine decides."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from starlette.testclient import TestClient

from support.portal import csrf_of, mfa_code

CREDS = "/portal/credentials"


def _post(client: TestClient, path: str, **fields: str) -> Any:
    token = csrf_of(client.get(CREDS).text)
    return client.post(path, data={"csrf": token, **fields}, follow_redirects=False)


def certificate_pem(now: datetime) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def ssh_public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def test_without_mfa_the_policy_denies_key_management(signed_in: Any, member: Any) -> None:
    member("alice")
    client = signed_in("alice")
    r = _post(client, f"{CREDS}/access-keys/create", UserName="alice", format="page")
    assert r.status_code == 403
    assert "is not authorized to perform: iam:CreateAccessKey" in r.text
    assert "with an explicit deny in an identity-based policy" in r.text


def test_access_keys_with_mfa(
    signed_in: Any, member: Any, with_mfa: Any, root_call: Callable[..., Any]
) -> None:
    member("alice")
    client = signed_in("alice", with_mfa("alice"))
    created = _post(client, f"{CREDS}/access-keys/create", UserName="alice", format="page")
    assert created.status_code == 200
    key_id = re.search(r'id="access-key-id">(AKIA\w+)<', created.text)
    secret = re.search(r'id="secret-access-key">([^<]+)<', created.text)
    assert key_id and secret and len(secret.group(1)) == 40
    assert created.headers["cache-control"] == "no-store"
    page = client.get(CREDS).text
    assert key_id.group(1) in page and secret.group(1) not in page  # shown once

    csv = _post(client, f"{CREDS}/access-keys/create", UserName="alice", format="csv")
    assert csv.headers["content-disposition"] == 'attachment; filename="alice_accessKeys.csv"'
    header, row = csv.text.strip().split("\n")
    assert header == "Access key ID,Secret access key"
    assert row.startswith("AKIA") and len(row.split(",")[1]) == 40

    third = _post(client, f"{CREDS}/access-keys/create", UserName="alice", format="page")
    assert third.status_code == 409
    assert "You already have two access keys" in third.text
    assert "AccessKeysPerUser: 2" in third.text

    kid = key_id.group(1)
    r = _post(client, f"{CREDS}/access-keys/update", AccessKeyId=kid, Status="Inactive")
    assert r.headers["location"] == f"{CREDS}?done=key-deactivated"
    statuses = {
        k["AccessKeyId"]: k["Status"]
        for k in root_call("ListAccessKeys", UserName="alice")["AccessKeyMetadata"]
    }
    assert statuses[kid] == "Inactive"
    _post(client, f"{CREDS}/access-keys/update", AccessKeyId=kid, Status="Active")
    _post(client, f"{CREDS}/access-keys/delete", AccessKeyId=kid)
    keys = root_call("ListAccessKeys", UserName="alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] != [] and kid not in {k["AccessKeyId"] for k in keys}


def test_a_forged_post_for_another_user_is_refused_by_the_policy(
    signed_in: Any, member: Any, with_mfa: Any, root_call: Callable[..., Any]
) -> None:
    member("alice")
    member("bob")
    bobs = root_call("CreateAccessKey", UserName="bob")["AccessKey"]["AccessKeyId"]
    client = signed_in("alice", with_mfa("alice"))
    # bob's page shows no buttons that change him
    page = client.get("/portal/users/bob").text
    assert "access-keys/update" not in page and "<button" in page  # only sign-out
    assert page.count("<button") == 1
    forged = [
        (f"{CREDS}/access-keys/update", {"AccessKeyId": bobs, "Status": "Inactive"}),
        (f"{CREDS}/access-keys/delete", {"AccessKeyId": bobs}),
        (f"{CREDS}/access-keys/create", {"format": "page"}),
        (f"{CREDS}/ssh-keys/upload", {"SSHPublicKeyBody": ssh_public_key()}),
    ]
    for path, fields in forged:
        r = _post(client, path, UserName="bob", **fields)
        assert r.status_code == 403, path
        assert "on resource: arn:aws:iam::" in r.text and ":user/bob" in r.text
    keys = root_call("ListAccessKeys", UserName="bob")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(bobs, "Active")]
    assert root_call("ListSSHPublicKeys", UserName="bob")["SSHPublicKeys"] == []


def test_certificates_and_ssh_keys(
    signed_in: Any, member: Any, with_mfa: Any, clock: Any, root_call: Callable[..., Any]
) -> None:
    member("alice")
    client = signed_in("alice", with_mfa("alice"))
    pem = certificate_pem(datetime.now(UTC))
    r = _post(client, f"{CREDS}/certificates/upload", UserName="alice", CertificateBody=pem)
    assert r.status_code == 303, r.text
    cert_id = root_call("ListSigningCertificates", UserName="alice")["Certificates"][0][
        "CertificateId"
    ]
    _post(client, f"{CREDS}/certificates/update", CertificateId=cert_id, Status="Inactive")
    assert (
        root_call("ListSigningCertificates", UserName="alice")["Certificates"][0]["Status"]
        == "Inactive"
    )
    bad = _post(client, f"{CREDS}/certificates/upload", CertificateBody="not a certificate")
    assert bad.status_code == 400 and "MalformedCertificate" in bad.text
    _post(client, f"{CREDS}/certificates/delete", CertificateId=cert_id)
    assert root_call("ListSigningCertificates", UserName="alice")["Certificates"] == []

    body = ssh_public_key()
    r = _post(client, f"{CREDS}/ssh-keys/upload", UserName="alice", SSHPublicKeyBody=body)
    assert r.status_code == 303
    key = root_call("ListSSHPublicKeys", UserName="alice")["SSHPublicKeys"][0]
    full = root_call(
        "GetSSHPublicKey", UserName="alice", SSHPublicKeyId=key["SSHPublicKeyId"], Encoding="SSH"
    )["SSHPublicKey"]
    assert full["Fingerprint"] in client.get(CREDS).text
    _post(
        client, f"{CREDS}/ssh-keys/update", SSHPublicKeyId=key["SSHPublicKeyId"], Status="Inactive"
    )
    _post(client, f"{CREDS}/ssh-keys/delete", SSHPublicKeyId=key["SSHPublicKeyId"])
    assert root_call("ListSSHPublicKeys", UserName="alice")["SSHPublicKeys"] == []


def test_mfa_enrolment_and_removal(signed_in: Any, member: Any, clock: Any, account: str) -> None:
    member("alice")
    client = signed_in("alice")
    r = _post(client, f"{CREDS}/mfa/start", UserName="alice")
    assert r.status_code == 303
    page = client.get(CREDS).text
    assert "<svg" in page
    seed = re.search(r'id="mfa-secret">([A-Z2-7]+)<', page)
    assert seed
    wrong = _post(client, f"{CREDS}/mfa/enable", code1="123456", code2="654321")
    assert wrong.status_code == 403 and "Authentication code for device is not valid" in wrong.text
    assert "<svg" in wrong.text  # the QR code is shown again
    ok = _post(
        client,
        f"{CREDS}/mfa/enable",
        code1=mfa_code(seed.group(1), clock.now, -1),
        code2=mfa_code(seed.group(1), clock.now),
    )
    assert ok.headers["location"] == f"{CREDS}?done=mfa-enabled"
    serial = f"arn:aws:iam::{account}:mfa/alice"
    assert serial in client.get(CREDS).text
    # Removing the device needs an MFA sign-in (the SelfService policy).
    denied = _post(client, f"{CREDS}/mfa/remove", UserName="alice", SerialNumber=serial)
    assert denied.status_code == 403 and "iam:DeactivateMFADevice" in denied.text
    client.cookies.clear()
    clock.now += timedelta(seconds=30)
    client = signed_in("alice", seed.group(1))
    removed = _post(client, f"{CREDS}/mfa/remove", UserName="alice", SerialNumber=serial)
    assert removed.headers["location"] == f"{CREDS}?done=mfa-removed"


def test_directory_shows_what_the_policy_allows(
    client: TestClient, signed_in: Any, member: Any, account: str
) -> None:
    member("alice")
    member("carol", group=None)
    signed_in("alice")
    users = client.get("/portal/users").text
    assert "alice" in users and "carol" in users and "admin" in users
    assert "SelfService" in client.get("/portal/groups").text
    assert "alice" in client.get("/portal/groups/SelfService").text
    client.cookies.clear()
    signed_in("carol")  # no policy at all: reads are denied, in AWS's words
    denied = client.get("/portal/users")
    assert "is not authorized to perform: iam:ListUsers" in denied.text
