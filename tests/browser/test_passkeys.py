"""Passkeys in a real browser: Debian's Chromium with its virtual authenticator (the
DevTools WebAuthn domain), never a real device, against a live server reached as
``http://localhost:PORT`` (WebAuthn refuses IP addresses; the RP ID is the request's host).

A member enrols a passkey, signs in with password and passkey (the authenticator's
counter moves, MFA-gated actions work), a second browser whose authenticator holds
only another member's passkey is refused, passwordless sign-in works once the admin
turns it on, a forged removal of another member's passkey is refused by the policy
engine, a member removes their own, and offboarding removes the other's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.server import LiveServer

pytestmark = pytest.mark.slow

PASSWORD = "Member-Passw0rd!-long"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
#: Refresh the README's screenshots only when asked: a test run leaves the checkout as it was.
UPDATE_IMAGES = os.environ.get("SELFIAM_UPDATE_DOC_IMAGES") == "1"


class Browser:
    """One browser context with one page and its own virtual authenticator."""

    def __init__(self, browser: Any, portal: str) -> None:
        self.context = browser.new_context(viewport={"width": 1000, "height": 760})
        self.page = self.context.new_page()
        self.portal = portal
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        self.authenticator = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "usb",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator})
        return list(found["credentials"])

    def sign_in(self, account: str, user: str) -> None:
        page = self.page
        page.goto(f"{self.portal}/signin")
        page.get_by_label("Account ID (12 digits) or account alias").fill(account)
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()

    def enrol(self, label: str) -> None:
        page = self.page
        page.goto(f"{self.portal}/credentials")
        page.get_by_label("Passkey or security key name").fill(label)
        page.get_by_role("button", name="Add passkey or security key").click()
        page.get_by_role("button", name="Register passkey").wait_for()

    def notice(self) -> str:
        return str(self.page.get_by_role("status").first.inner_text())

    def error(self) -> str:
        return str(self.page.get_by_role("alert").first.inner_text())


def _mfa_shown(page: Any) -> str:
    return str(page.locator("dt:has-text('Signed in with MFA') + dd").inner_text())


def test_passkeys_in_the_browser(browser: Any, server: LiveServer, screenshot: Any) -> None:
    admin = server.client()
    for name in ("alice", "bob"):
        admin.create_user(UserName=name)
        admin.add_user_to_group(GroupName="SelfService", UserName=name)
        admin.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=False)
    port = server.endpoint.rsplit(":", 1)[1]
    portal = f"http://localhost:{port}/portal"
    account = server.account_id

    # Enrolment: a name, then the browser's prompt (the virtual authenticator answers).
    a = Browser(browser, portal)
    a.sign_in(account, "alice")
    a.enrol("laptop")
    shot = screenshot(a.page, "passkey-enrolment")
    if UPDATE_IMAGES:
        shutil.copy(shot, DOCS_IMAGES / "portal-passkey-enrolment.png")
    a.page.get_by_role("button", name="Register passkey").click()
    a.page.wait_for_url(f"{portal}/credentials?done=passkey-added")
    assert "Your passkey is registered" in a.notice()
    devices = admin.list_mfa_devices(UserName="alice")["MFADevices"]
    assert len(devices) == 1 and f":{account}:u2f/user/alice/laptop-" in devices[0]["SerialNumber"]
    alice_serial = devices[0]["SerialNumber"]
    assert admin.get_mfa_device(UserName="alice", SerialNumber=alice_serial)["UserName"] == "alice"
    [credential] = a.credentials()
    registered_count = credential["signCount"]

    # Sign-in: password, then the passkey; the session is an MFA session.
    a.sign_out()
    a.sign_in(account, "alice")
    a.page.wait_for_url(f"{portal}/signin/mfa")
    a.page.get_by_role("button", name="Use passkey").wait_for()
    shot = screenshot(a.page, "passkey-sign-in")
    if UPDATE_IMAGES:
        shutil.copy(shot, DOCS_IMAGES / "portal-passkey-sign-in.png")
    a.page.get_by_role("button", name="Use passkey").click()
    a.page.wait_for_url(f"{portal}/credentials")
    assert _mfa_shown(a.page) == "Yes"
    [credential] = a.credentials()
    assert credential["signCount"] > registered_count
    # An MFA-gated action of the SelfService policy now works.
    a.page.get_by_role("button", name="Create access key", exact=True).click()
    assert "AKIA" in a.page.content()
    a.page.goto(f"{portal}/credentials")

    # A second browser: its authenticator holds bob's passkey, none of alice's.
    b = Browser(browser, portal)
    b.sign_in(account, "bob")
    b.enrol("bobkey")
    b.page.get_by_role("button", name="Register passkey").click()
    b.page.wait_for_url(f"{portal}/credentials?done=passkey-added")
    bob_serial = admin.list_mfa_devices(UserName="bob")["MFADevices"][0]["SerialNumber"]
    b.sign_out()
    b.sign_in(account, "alice")
    b.page.wait_for_url(f"{portal}/signin/mfa")
    # Asked for alice's passkeys, the authenticator has none to give: no sign-in.
    b.page.get_by_role("button", name="Use passkey").click()
    status = b.page.locator("[data-webauthn-status]")
    status.filter(has_text="did not give a passkey").wait_for()
    assert b.page.url == f"{portal}/signin/mfa"
    # Offer any discoverable credential, not only alice's: the browser then gives bob's.
    b.page.eval_on_selector(
        "form[data-webauthn]",
        "f => { const o = JSON.parse(f.dataset.webauthnOptions); o.allowCredentials = [];"
        " f.dataset.webauthnOptions = JSON.stringify(o); }",
    )
    b.page.get_by_role("button", name="Use passkey").click()
    b.page.wait_for_load_state()
    assert "The passkey was not accepted" in b.error()
    assert b.page.url.startswith(f"{portal}/signin/mfa")

    # Passwordless sign-in: refused until the admin turns it on, then an MFA session.
    a.sign_out()
    a.page.goto(f"{portal}/signin")
    a.page.get_by_role("button", name="Use a passkey instead of a password").click()
    a.page.get_by_role("button", name="Use a passkey").click()
    a.page.wait_for_load_state()
    assert "not turned on" in a.error()
    assert server.selfiam("sign-in", "--passwordless", "on").returncode == 0
    a.page.goto(f"{portal}/signin")
    a.page.get_by_role("button", name="Use a passkey instead of a password").click()
    a.page.get_by_role("button", name="Use a passkey").click()
    a.page.wait_for_url(f"{portal}/credentials")
    assert _mfa_shown(a.page) == "Yes"
    assert a.page.locator(".who").inner_text().startswith("alice @")

    # A forged removal of bob's passkey, from alice's own remove form: the engine refuses.
    form = a.page.locator("form[action$='/credentials/passkeys/remove']").first
    form.evaluate(
        "(f, serial) => { f.elements.UserName.value = 'bob';"
        " f.elements.SerialNumber.value = serial; f.submit(); }",
        bob_serial,
    )
    a.page.wait_for_load_state()
    assert "is not authorized to perform: iam:DeactivateMFADevice" in a.error()
    assert admin.list_mfa_devices(UserName="bob")["MFADevices"][0]["SerialNumber"] == bob_serial

    # Removal of her own: one operation, then no MFA device is left.
    a.page.goto(f"{portal}/credentials")
    a.page.locator("form[action$='/credentials/passkeys/remove'] button").click()
    a.page.wait_for_url(f"{portal}/credentials?done=passkey-removed")
    assert admin.list_mfa_devices(UserName="alice")["MFADevices"] == []

    # Offboarding bob over the API (`selfiam offboard`, as on AWS: ListMFADevices, then
    # DeactivateMFADevice on each) removes his passkey, then the user.
    removed = subprocess.run(
        [sys.executable, "-m", "selfiam.cli", "offboard", "bob", "--yes"]
        + ["--endpoint-url", server.endpoint],
        env=server.cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert bob_serial in removed.stdout and "DeactivateMFADevice" in removed.stdout
    assert [u["UserName"] for u in admin.list_users()["Users"]].count("bob") == 0
    a.context.close()
    b.context.close()
