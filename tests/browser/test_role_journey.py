"""Roles in a real browser, against a live server.

The admin creates a role trusting a member in the portal and gives it IAM read access;
the member (with no permissions of her own) signs in, switches to the role, sees the
directory as the role, gets credentials for the command line and uses them with boto3
(GetCallerIdentity names the assumed role), and goes back to herself. The admin then
ends the command-line session on the role's page, and those credentials stop working.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "Ada-Admin-Passw0rd!"
MIA_PASSWORD = "Mia-Own-Passw0rd!"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
#: Refresh the README's screenshots only when asked: a test run leaves the checkout as it was.
UPDATE_IMAGES = os.environ.get("SELFIAM_UPDATE_DOC_IMAGES") == "1"


def _sign_in(page: Any, user: str, password: str) -> None:
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_role_journey(browser: Any, server: LiveServer, screenshot: Any) -> None:
    root = server.client()
    root.create_user(UserName="ada")
    root.attach_user_policy(UserName="ada", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    root.create_login_profile(UserName="ada", Password=ADMIN_PASSWORD)
    root.create_user(UserName="mia")
    root.create_login_profile(UserName="mia", Password=MIA_PASSWORD)
    portal = f"{server.endpoint}/portal"
    account = server.account_id

    # The admin creates Deploy, trusting mia, and gives it IAM read access.
    admin_context = browser.new_context(viewport={"width": 1100, "height": 800})
    admin = admin_context.new_page()
    admin.goto(f"{portal}/signin?account={account}")
    _sign_in(admin, "ada", ADMIN_PASSWORD)
    admin.wait_for_url(f"{portal}/credentials")
    admin.goto(f"{portal}/admin/roles")
    admin.get_by_label("Role name").fill("Deploy")
    admin.get_by_label("Description (optional)").fill("Deploys the team's services")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:user/mia"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    admin.get_by_label("Trust policy: who may assume the role (JSON)").fill(
        json.dumps(trust, indent=2)
    )
    admin.get_by_role("button", name="Create role").click()
    admin.wait_for_url(f"{portal}/admin/roles/Deploy?done=role-created")
    admin.get_by_label("Attach a managed policy (ARN)").fill(
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    )
    admin.get_by_role("button", name="Attach policy").click()
    admin.wait_for_url(f"{portal}/admin/roles/Deploy?done=policy-attached")

    # mia signs in: as herself she may not list users.
    mia_context = browser.new_context(viewport={"width": 1100, "height": 800})
    mia = mia_context.new_page()
    mia.goto(f"{portal}/signin?account={account}")
    _sign_in(mia, "mia", MIA_PASSWORD)
    mia.wait_for_url(f"{portal}/credentials")
    mia.goto(f"{portal}/users")
    assert "not authorized to perform: iam:ListUsers" in mia.locator("main").inner_text()

    # She switches to Deploy from the list of roles that trust her.
    mia.get_by_role("link", name="Switch role").click()
    mia.get_by_role("button", name="Switch to Deploy").click()
    mia.wait_for_url(f"{portal}/role?done=role-switched")
    assert mia.locator("#acting-as").inner_text() == f"role/Deploy @ {account}"
    assert mia.locator("#assumed-role-arn").inner_text() == (
        f"arn:aws:sts::{account}:assumed-role/Deploy/mia"
    )
    shot = screenshot(mia, "portal-switch-role", full_page=False)
    if UPDATE_IMAGES:
        shutil.copyfile(shot, DOCS_IMAGES / "portal-switch-role.png")
    mia.get_by_role("link", name="Users").first.click()
    assert "ada" in mia.locator("table").inner_text()
    mia.goto(f"{portal}/role")

    # Credentials for the command line: a fresh session of the role, used with boto3.
    mia.get_by_role("button", name="Get credentials for the command line").click()
    mia.get_by_role("heading", name="Credentials of role Deploy").wait_for()
    key_id = mia.locator("#temp-access-key-id").inner_text()
    secret = mia.locator("#temp-secret-access-key").inner_text()
    token = mia.locator("#temp-session-token").inner_text()
    assert f"export AWS_SESSION_TOKEN={token}" in mia.locator("#export-lines").inner_text()
    assert "?" not in mia.url  # nothing of it in a URL
    shot = screenshot(mia, "portal-role-credentials", full_page=False)
    if UPDATE_IMAGES:
        shutil.copyfile(shot, DOCS_IMAGES / "portal-role-credentials.png")
    sts = server.client(key_id, secret, service="sts", token=token)
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{account}:assumed-role/Deploy/mia"
    iam = server.client(key_id, secret, token=token)
    assert any(u["UserName"] == "mia" for u in iam.list_users()["Users"])

    # Back to herself.
    mia.get_by_role("button", name="Back to mia").first.click()
    mia.wait_for_url(f"{portal}/credentials?done=role-left")
    assert mia.locator("#acting-as").count() == 0

    # The admin sees the command-line session on the role's page and ends it.
    admin.goto(f"{portal}/admin/roles/Deploy")
    sessions = admin.get_by_role("region", name="Live sessions").inner_text()
    assert "mia" in sessions and f"arn:aws:iam::{account}:user/mia" in sessions
    admin.get_by_role("button", name=f"End session {key_id}").click()
    admin.wait_for_url(f"{portal}/admin/roles/Deploy?done=session-ended")
    with pytest.raises(ClientError) as refused:
        sts.get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"
    mia_context.close()
    admin_context.close()
