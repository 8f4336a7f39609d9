"""A member sets themselves up in a real browser, against a live server.

First sign-in with the temporary password, the forced password change (a weak
one refused with the rule named), MFA enrolment with real TOTP codes, sign-out,
sign-in with MFA, an access key created and used with boto3 against the same
server, a certificate and an SSH key uploaded — and a form forged to change
another member's key, refused by the policy engine.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pyotp
import pytest

from support.server import LiveServer

pytestmark = pytest.mark.slow

TEMPORARY = "Temporary-Passw0rd!"
NEW_PASSWORD = "Alice-Own-Passw0rd!"


def _certificate_pem() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now.replace(year=now.year - 1))
        .not_valid_after(now.replace(year=now.year + 1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _ssh_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _sign_in(page: Any, server: LiveServer, password: str) -> None:
    page.goto(f"{server.endpoint}/portal/signin")
    page.get_by_label("Account ID (12 digits) or account alias").fill(server.account_id)
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_member_journey(browser: Any, server: LiveServer, screenshot: Any) -> None:
    admin = server.client()
    for name in ("alice", "bob"):
        admin.create_user(UserName=name)
        admin.add_user_to_group(GroupName="SelfService", UserName=name)
    admin.create_login_profile(UserName="alice", Password=TEMPORARY, PasswordResetRequired=True)
    bobs_key = admin.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]

    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    portal = f"{server.endpoint}/portal"

    # First sign-in: the temporary password leads only to the change-password page.
    page.goto(f"{portal}/signin")
    screenshot(page, "01-sign-in")
    _sign_in(page, server, TEMPORARY)
    page.wait_for_url(f"{portal}/password")
    assert page.get_by_role("heading", name="Password policy").is_visible()
    page.get_by_label("Current password").fill(TEMPORARY)
    page.get_by_label("New password", exact=True).fill("alice")
    page.get_by_label("Confirm new password").fill("alice")
    page.get_by_role("button", name="Change password").click()
    error = page.get_by_role("alert")
    assert "at least 8 characters long" in error.inner_text()
    screenshot(page, "02-change-password-refused")
    page.get_by_label("Current password").fill(TEMPORARY)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(f"{portal}/credentials?done=password-changed")

    # MFA enrolment with real codes from the secret shown on the page.
    page.get_by_role("button", name="Assign MFA device").click()
    page.wait_for_url(f"{portal}/credentials")
    assert page.locator("figure.qr svg").is_visible()
    secret = page.locator("#mfa-secret").inner_text()
    screenshot(page, "03-mfa-enrolment")
    totp = pyotp.TOTP(secret)
    now = time.time()
    page.get_by_label("MFA code 1").fill(totp.at(now - 30))
    page.get_by_label("MFA code 2 (the next one)").fill(totp.at(now))
    page.get_by_role("button", name="Assign MFA device").click()
    page.wait_for_url(f"{portal}/credentials?done=mfa-enabled")

    # Sign out; sign in again, now with the MFA step.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{portal}/signin?done=signed-out")
    _sign_in(page, server, NEW_PASSWORD)
    page.wait_for_url(f"{portal}/signin/mfa")
    screenshot(page, "04-mfa-sign-in")
    page.get_by_label("MFA code").fill(totp.at(time.time() + 30))  # a step not used yet
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(f"{portal}/credentials")

    # An access key, used with boto3 against the same server.
    page.get_by_role("button", name="Create access key", exact=True).click()
    key_id = page.locator("#access-key-id").inner_text()
    secret_key = page.locator("#secret-access-key").inner_text()
    me = server.client(key_id, secret_key, service="sts").get_caller_identity()
    assert me["Arn"].endswith(":user/alice")
    assert "alice" in {
        u["UserName"] for u in server.client(key_id, secret_key).list_users()["Users"]
    }
    page.get_by_role("link", name="Done — back to my security credentials").click()

    # A signing certificate and an SSH public key.
    page.get_by_label("Certificate (PEM)").fill(_certificate_pem())
    page.get_by_role("button", name="Upload certificate").click()
    page.wait_for_url(f"{portal}/credentials?done=cert-uploaded")
    page.get_by_label("SSH public key (ssh-rsa or ssh-ed25519)").fill(_ssh_key())
    page.get_by_role("button", name="Upload SSH public key").click()
    page.wait_for_url(f"{portal}/credentials?done=ssh-uploaded")
    fingerprint = admin.list_ssh_public_keys(UserName="alice")["SSHPublicKeys"][0]
    assert page.locator("#ssh-keys").inner_text().count(":") >= 15  # the MD5 fingerprint
    assert fingerprint["Status"] == "Active"
    assert len(admin.list_signing_certificates(UserName="alice")["Certificates"]) == 1
    screenshot(page, "05-my-security-credentials")

    # bob's page: readable, with no button that changes him.
    page.goto(f"{portal}/users/bob")
    assert page.get_by_role("button").all_inner_texts() == ["Sign out"]
    screenshot(page, "06-directory-user")

    # A forged form: alice's own "Deactivate" form, rewritten to name bob and his key.
    page.goto(f"{portal}/credentials")
    form = page.locator("form[action$='/credentials/access-keys/update']").first
    form.evaluate(
        """(f, args) => {
            f.querySelector("input[name=UserName]").value = args.user;
            f.querySelector("input[name=AccessKeyId]").value = args.key;
        }""",
        {"user": "bob", "key": bobs_key},
    )
    form.get_by_role("button", name="Deactivate").click()
    page.wait_for_load_state()
    refusal = page.get_by_role("alert").inner_text()
    assert "is not authorized to perform: iam:UpdateAccessKey" in refusal
    assert ":user/bob" in refusal
    screenshot(page, "07-forged-post-refused")
    bob = admin.list_access_keys(UserName="bob")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in bob] == [(bobs_key, "Active")]

    # At a phone's width the pages still read (no horizontal scrolling of the page).
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    small = phone.new_page()
    small.goto(f"{portal}/signin")
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    screenshot(small, "08-sign-in-phone")
    phone.close()
    context.close()
