"""Issue 4's story end to end: every credential a member looks after, over boto3 and HTTP.

alice gets a temporary password and must change it (a weak one is refused with the
rule named), enrols a virtual MFA device with real TOTP codes, is refused key
management with her long-term key, gets an MFA session token and then creates a key,
uploads a signing certificate and an ed25519 SSH key; she cannot touch bob's MFA
device, read bob's SSH key or upload a certificate for bob; the credential report
and SimulatePrincipalPolicy agree with what happened; when the admin deletes her,
her session token stops working at once. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID

from support.mfa import Authenticator
from support.server import LiveServer

pytestmark = pytest.mark.slow

STRONG = "Correct-Horse-9-Battery!"


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def self_signed_pem(name: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def ed25519_public_key() -> str:
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def enrol_mfa(iam: Any, user: str) -> tuple[str, Authenticator]:
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]
    app = Authenticator(device["Base32StringSeed"].decode())
    iam.enable_mfa_device(UserName=user, SerialNumber=device["SerialNumber"], **app.enable_codes())
    return device["SerialNumber"], app


def test_a_member_sets_up_every_credential(server: LiveServer) -> None:
    admin = server.client()
    acct = server.account_id
    admin.update_account_password_policy(
        MinimumPasswordLength=12,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True,
        PasswordReusePrevention=3,
    )
    keys: dict[str, dict[str, str]] = {}
    for name in ("alice", "bob"):
        admin.create_user(UserName=name)
        admin.add_user_to_group(GroupName="SelfService", UserName=name)
        admin.create_login_profile(
            UserName=name, Password="Temporary-Pass-1!", PasswordResetRequired=True
        )
        keys[name] = admin.create_access_key(UserName=name)["AccessKey"]
    alice = server.client(keys["alice"]["AccessKeyId"], keys["alice"]["SecretAccessKey"])
    alice_sts = server.client(
        keys["alice"]["AccessKeyId"], keys["alice"]["SecretAccessKey"], service="sts"
    )
    bob = server.client(keys["bob"]["AccessKeyId"], keys["bob"]["SecretAccessKey"])

    # The temporary password must be changed; a weak one is refused with the rule named.
    assert alice.get_login_profile(UserName="alice")["LoginProfile"]["PasswordResetRequired"]
    with pytest.raises(ClientError) as exc:
        alice.change_password(OldPassword="Temporary-Pass-1!", NewPassword="short")
    code, message = error_of(exc)
    assert code == "PasswordPolicyViolation"
    assert "12" in message and "short" not in message
    alice.change_password(OldPassword="Temporary-Pass-1!", NewPassword=STRONG)
    assert not alice.get_login_profile(UserName="alice")["LoginProfile"]["PasswordResetRequired"]

    # Without MFA, key management is refused by the explicit MFA deny.
    with pytest.raises(ClientError) as exc:
        alice.create_access_key()
    assert error_of(exc) == (
        "AccessDenied",
        f"User: arn:aws:iam::{acct}:user/alice is not authorized to perform: "
        f"iam:CreateAccessKey on resource: arn:aws:iam::{acct}:user/alice "
        "with an explicit deny in an identity-based policy",
    )

    # She enrols her own virtual MFA device with real codes and gets an MFA session.
    serial, app = enrol_mfa(alice, "alice")
    creds = alice_sts.get_session_token(SerialNumber=serial, TokenCode=app.next_code())[
        "Credentials"
    ]
    session = server.client(
        creds["AccessKeyId"], creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    session_sts = server.client(
        creds["AccessKeyId"], creds["SecretAccessKey"], service="sts", token=creds["SessionToken"]
    )
    assert session_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{acct}:user/alice"

    new_key = session.create_access_key()["AccessKey"]
    assert new_key["UserName"] == "alice"
    cert_pem = self_signed_pem("alice")
    cert = session.upload_signing_certificate(CertificateBody=cert_pem)["Certificate"]
    assert cert["Status"] == "Active"
    ssh = session.upload_ssh_public_key(UserName="alice", SSHPublicKeyBody=ed25519_public_key())[
        "SSHPublicKey"
    ]
    assert ssh["Status"] == "Active"

    # bob's things are out of reach, MFA or not.
    bob_serial, _ = enrol_mfa(bob, "bob")
    bob_ssh = admin.upload_ssh_public_key(UserName="bob", SSHPublicKeyBody=ed25519_public_key())[
        "SSHPublicKey"
    ]
    with pytest.raises(ClientError) as exc:
        session.deactivate_mfa_device(UserName="bob", SerialNumber=bob_serial)
    assert error_of(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        session.get_ssh_public_key(
            UserName="bob", SSHPublicKeyId=bob_ssh["SSHPublicKeyId"], Encoding="SSH"
        )
    assert error_of(exc)[0] == "AccessDenied"
    assert "explicit deny" in error_of(exc)[1]
    with pytest.raises(ClientError) as exc:
        session.upload_signing_certificate(UserName="bob", CertificateBody=self_signed_pem("x"))
    assert error_of(exc)[0] == "AccessDenied"
    assert admin.list_signing_certificates(UserName="bob")["Certificates"] == []
    assert [d["SerialNumber"] for d in admin.list_mfa_devices(UserName="bob")["MFADevices"]] == [
        bob_serial
    ]

    # The credential report shows her state.
    deadline = time.monotonic() + 30
    while admin.generate_credential_report()["State"] != "COMPLETE":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    report = admin.get_credential_report()
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(report["Content"].decode()))}
    row = rows["alice"]
    assert row["arn"] == f"arn:aws:iam::{acct}:user/alice"
    assert row["password_enabled"] == "true"
    assert row["mfa_active"] == "true"
    assert row["access_key_1_active"] == "true" and row["access_key_2_active"] == "true"
    assert row["cert_1_active"] == "true" and row["cert_2_active"] == "false"
    assert rows["bob"]["cert_1_active"] == "false"

    # SimulatePrincipalPolicy agrees with what really happened.
    def simulated(action: str, resource: str, mfa: bool) -> str:
        context = [
            {
                "ContextKeyName": "aws:username",
                "ContextKeyValues": ["alice"],
                "ContextKeyType": "string",
            },
        ]
        if mfa:
            context.append(
                {
                    "ContextKeyName": "aws:MultiFactorAuthPresent",
                    "ContextKeyValues": ["true"],
                    "ContextKeyType": "boolean",
                }
            )
        result = admin.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{acct}:user/alice",
            ActionNames=[action],
            ResourceArns=[resource],
            ContextEntries=context,
        )["EvaluationResults"][0]
        return str(result["EvalDecision"])

    alice_arn, bob_arn = f"arn:aws:iam::{acct}:user/alice", f"arn:aws:iam::{acct}:user/bob"
    assert simulated("iam:CreateAccessKey", alice_arn, mfa=False) == "explicitDeny"
    assert simulated("iam:CreateAccessKey", alice_arn, mfa=True) == "allowed"
    assert simulated("iam:UploadSSHPublicKey", alice_arn, mfa=True) == "allowed"
    assert simulated("iam:DeactivateMFADevice", bob_arn, mfa=True) == "implicitDeny"
    assert simulated("iam:GetSSHPublicKey", bob_arn, mfa=True) == "explicitDeny"
    assert simulated("iam:UploadSigningCertificate", bob_arn, mfa=True) == "implicitDeny"

    # The admin deletes alice (after removing what AWS requires): her session dies at once.
    assert session.get_user()["User"]["UserName"] == "alice"
    for key in admin.list_access_keys(UserName="alice")["AccessKeyMetadata"]:
        admin.delete_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"])
    admin.delete_signing_certificate(UserName="alice", CertificateId=cert["CertificateId"])
    admin.delete_ssh_public_key(UserName="alice", SSHPublicKeyId=ssh["SSHPublicKeyId"])
    admin.deactivate_mfa_device(UserName="alice", SerialNumber=serial)
    admin.delete_virtual_mfa_device(SerialNumber=serial)
    admin.delete_login_profile(UserName="alice")
    admin.remove_user_from_group(GroupName="SelfService", UserName="alice")
    admin.delete_user(UserName="alice")
    with pytest.raises(ClientError) as exc:
        session.get_user()
    assert error_of(exc)[0] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as exc:
        session_sts.get_caller_identity()
    assert error_of(exc)[0] == "InvalidClientTokenId"
