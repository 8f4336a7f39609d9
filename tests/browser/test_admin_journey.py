"""An admin runs the team in a real browser, against a live server.

The admin signs in, creates a user (the temporary password and sign-in link
shown once), puts them in SelfService; the new user signs in in a second
browser and sets their password; then the admin offboards them in one step
from the confirmation page. The user's next page load lands on the sign-in
page, and their access key (created earlier with boto3) is refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "Ada-Admin-Passw0rd!"
ERIN_PASSWORD = "Erin-Own-Passw0rd!"


def _sign_in(page: Any, user: str, password: str) -> None:
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_journey(browser: Any, server: LiveServer, screenshot: Any) -> None:
    root = server.client()
    root.create_user(UserName="ada")
    root.attach_user_policy(UserName="ada", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    root.create_login_profile(UserName="ada", Password=ADMIN_PASSWORD)
    portal = f"{server.endpoint}/portal"

    admin_context = browser.new_context(viewport={"width": 1100, "height": 800})
    admin = admin_context.new_page()
    admin.goto(f"{portal}/signin?account={server.account_id}")
    _sign_in(admin, "ada", ADMIN_PASSWORD)
    admin.wait_for_url(f"{portal}/credentials")

    # Create erin: a temporary password and a sign-in link, shown once.
    admin.goto(f"{portal}/admin/users")
    admin.get_by_label("User name").fill("erin")
    admin.get_by_role("button", name="Create user").click()
    admin.get_by_role("heading", name="User erin created").wait_for()
    temporary = admin.locator("#temporary-password").input_value()
    link = admin.locator("#signin-link").input_value()
    assert link == f"{portal}/signin?account={server.account_id}"
    screenshot(admin, "admin-01-user-created")

    # Put erin in SelfService.
    admin.get_by_role("link", name="Manage erin: groups, policies, credentials").click()
    admin.get_by_label("Add to group").select_option("SelfService")
    admin.get_by_role("button", name="Add to group").click()
    admin.wait_for_url(f"{portal}/admin/users/erin?done=group-added")
    assert admin.get_by_role("button", name="Remove from SelfService").is_visible()

    # erin's access key, made with boto3; it works.
    key = root.create_access_key(UserName="erin")["AccessKey"]
    erins_sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], service="sts")
    assert erins_sts.get_caller_identity()["Arn"].endswith(":user/erin")
    admin.reload()
    assert (
        key["AccessKeyId"] in admin.locator("#credentials-heading + *").locator("..").inner_text()
    )
    screenshot(admin, "admin-02-manage-user")

    # erin signs in in a second browser with the link, and sets her own password.
    erin_context = browser.new_context(viewport={"width": 1100, "height": 800})
    erin = erin_context.new_page()
    erin.goto(link)
    assert erin.get_by_label("Account ID (12 digits) or account alias").input_value() == (
        server.account_id
    )
    _sign_in(erin, "erin", temporary)
    erin.wait_for_url(f"{portal}/password")
    erin.get_by_label("Current password").fill(temporary)
    erin.get_by_label("New password", exact=True).fill(ERIN_PASSWORD)
    erin.get_by_label("Confirm new password").fill(ERIN_PASSWORD)
    erin.get_by_role("button", name="Change password").click()
    erin.wait_for_url(f"{portal}/credentials?done=password-changed")

    # The admin offboards erin: the confirmation page lists everything first.
    admin.get_by_role("link", name="Offboard erin…").click()
    admin.wait_for_url(f"{portal}/admin/users/erin/offboard")
    plan = admin.get_by_role("region", name="Everything that will be removed").inner_text()
    for item in (key["AccessKeyId"], "SelfService", "Console password", "1 signed-in session(s)"):
        assert item in plan, item
    screenshot(admin, "admin-03-offboard-confirm")
    admin.get_by_role("button", name="Offboard erin now").click()
    admin.get_by_role("heading", name="erin has been offboarded").wait_for()
    screenshot(admin, "admin-04-offboarded")

    # erin's next page load lands on the sign-in page; her key is refused.
    erin.reload()
    erin.wait_for_url(f"{portal}/signin")
    assert erin.get_by_role("button", name="Sign in").is_visible()
    screenshot(erin, "admin-05-offboarded-user-signed-out")
    with pytest.raises(ClientError) as refused:
        erins_sts.get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"

    # The audit log shows the one-step offboarding.
    admin.goto(f"{portal}/admin/audit?action=selfiam:OffboardUser")
    assert ":user/erin" in admin.locator("table").inner_text()
    screenshot(admin, "admin-06-audit-log")
    erin_context.close()
    admin_context.close()
