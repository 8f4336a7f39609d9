"""The admin pages against the real ASGI app and a real runtime: every page, every form,
AccessDenied (AWS's words) for a SelfService member, CSRF, and offboarding in one step."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from selfiam.app import create_app
from selfiam.domain.errors import AwsError
from selfiam.domain.identifiers import new_request_id
from selfiam.domain.password_rules import AWS_DEFAULT_POLICY, violations
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from support.portal import PASSWORD, app_settings, csrf_of, denied, post_form, sign_in, text_of

SCOPE = ("20261127", "us-east-1", "iam")
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
VALID_POLICY = (
    '{"Version": "2012-10-17", "Statement": '
    '[{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}'
)

RootCall = Callable[..., dict[str, Any]]


@pytest.fixture
def admin(client: TestClient, account: str, root_call: RootCall) -> TestClient:
    """``client`` signed in as boss, who holds AdministratorAccess (no MFA device)."""
    root_call("CreateUser", UserName="boss")
    root_call("AttachUserPolicy", UserName="boss", PolicyArn=ADMIN_ACCESS)
    root_call("CreateLoginProfile", UserName="boss", Password=PASSWORD)
    assert sign_in(client, account, "boss").status_code == 303
    return client


@pytest.fixture
def browser(runtime: Runtime, tmp_path: Path) -> Iterator[Callable[[], TestClient]]:
    """More browsers (each its own cookie jar) on the same app and runtime."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        c = TestClient(
            create_app(app_settings(tmp_path), runtime=runtime), base_url="http://testserver"
        )
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def key_refused(runtime: Runtime, key_id: str) -> bool:
    try:
        runtime.authenticate_access_key(key_id, SCOPE)
    except AwsError as err:
        assert err.code == "InvalidClientTokenId"
        return True
    return False


def user_page(name: str) -> str:
    return f"/portal/admin/users/{name}"


# -- users --------------------------------------------------------------------------------


def test_create_user_shows_a_temporary_password_once(
    admin: TestClient, account: str, root_call: RootCall, browser: Callable[[], TestClient]
) -> None:
    page = admin.get("/portal/admin/users")
    assert page.status_code == 200 and "boss" in page.text and "Create a user" in page.text
    r = post_form(admin, "/portal/admin/users", "/portal/admin/users", UserName="carol")
    assert r.status_code == 200, r.text
    password = re.search(r'id="temporary-password" readonly value="([^"]+)"', r.text)
    assert password is not None
    temporary = html.unescape(password.group(1))
    assert violations(temporary, AWS_DEFAULT_POLICY, "carol") == []
    assert f'value="http://testserver/portal/signin?account={account}"' in r.text
    assert r.headers["cache-control"] == "no-store"
    assert root_call("GetLoginProfile", UserName="carol")["LoginProfile"]["PasswordResetRequired"]
    assert temporary not in admin.get(user_page("carol")).text  # shown once
    # carol signs in with it and must set a new password first.
    carol = browser()
    signed = sign_in(carol, account, "carol", temporary)
    assert signed.status_code == 303 and signed.headers["location"] == "/portal/password"


def test_the_generated_password_meets_the_account_policy(
    admin: TestClient, root_call: RootCall
) -> None:
    root_call("UpdateAccountPasswordPolicy", MinimumPasswordLength=40, RequireSymbols=True)
    r = post_form(admin, "/portal/admin/users", "/portal/admin/users", UserName="dave")
    found = re.search(r'id="temporary-password" readonly value="([^"]+)"', r.text)
    assert found is not None and len(html.unescape(found.group(1))) >= 40


def test_create_user_errors_are_shown_on_the_form(admin: TestClient) -> None:
    r = post_form(admin, "/portal/admin/users", "/portal/admin/users", UserName="not valid")
    assert r.status_code == 400
    assert "Member must satisfy regular expression pattern" in text_of(r.text)
    assert 'value="not valid"' in r.text
    r = post_form(admin, "/portal/admin/users", "/portal/admin/users", UserName="BOSS")
    assert r.status_code == 409 and "User with name BOSS already exists." in r.text


def test_group_membership_add_and_remove(admin: TestClient, root_call: RootCall) -> None:
    root_call("CreateUser", UserName="carol")
    page = user_page("carol")
    r = post_form(admin, f"{page}/groups", page, change="add", GroupName="SelfService")
    assert r.status_code == 303 and r.headers["location"] == f"{page}?done=group-added"
    assert [g["GroupName"] for g in root_call("ListGroupsForUser", UserName="carol")["Groups"]] == [
        "SelfService"
    ]
    shown = admin.get(r.headers["location"]).text
    assert "The user has been added to the group." in shown and "Remove from SelfService" in shown
    r = post_form(admin, f"{page}/groups", page, change="remove", GroupName="SelfService")
    assert r.status_code == 303
    assert root_call("ListGroupsForUser", UserName="carol")["Groups"] == []
    r = post_form(admin, f"{page}/groups", page, change="add", GroupName="Nope")
    assert r.status_code == 404 and "The group with name Nope cannot be found." in r.text


def test_attach_and_detach_managed_policies(admin: TestClient, root_call: RootCall) -> None:
    root_call("CreateUser", UserName="carol")
    page = user_page("carol")
    r = post_form(admin, f"{page}/policies", page, change="attach", PolicyArn=READ_ONLY)
    assert r.status_code == 303
    attached = root_call("ListAttachedUserPolicies", UserName="carol")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [READ_ONLY]
    assert "Detach IAMReadOnlyAccess" in admin.get(page).text
    r = post_form(admin, f"{page}/policies", page, change="detach", PolicyArn=READ_ONLY)
    assert r.status_code == 303
    assert root_call("ListAttachedUserPolicies", UserName="carol")["AttachedPolicies"] == []
    group = "/portal/admin/groups/SelfService"
    r = post_form(admin, f"{group}/policies", group, change="attach", PolicyArn=READ_ONLY)
    assert r.status_code == 303 and r.headers["location"] == f"{group}?done=policy-attached"
    assert "Detach IAMReadOnlyAccess" in admin.get(group).text


def test_attach_form_suggests_the_accounts_policies_among_aws_s_many(
    admin: TestClient, root_call: RootCall, account: str
) -> None:
    """AWS has ~1,600 managed policies: the form suggests the account's own (SelfService's
    policy sorts after hundreds of AWS ones), AWS's job functions and the common ones."""
    root_call("CreateUser", UserName="dave")
    text = admin.get(user_page("dave")).text
    assert f'value="arn:aws:iam::{account}:policy/SelfServiceCredentials"' in text
    assert 'value="arn:aws:iam::aws:policy/ReadOnlyAccess"' in text
    assert 'value="arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"' in text
    assert text.count("<option value=") < 100


@pytest.mark.parametrize("kind", ["users", "groups"])
def test_inline_policies_with_the_engines_message_inline(
    admin: TestClient, root_call: RootCall, kind: str
) -> None:
    root_call("CreateUser", UserName="carol")
    name = "carol" if kind == "users" else "SelfService"
    page = f"/portal/admin/{kind}/{name}"
    editor = admin.get(f"{page}/inline")
    assert editor.status_code == 200 and 'name="PolicyDocument"' in editor.text
    broken = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}'
    r = post_form(admin, f"{page}/inline", f"{page}/inline", PolicyName="p1", PolicyDocument=broken)
    assert r.status_code == 400
    error = re.search(r'<p class="error" role="alert" id="policy-error">([^<]+)</p>', r.text)
    assert error is not None and error.group(1).startswith("MalformedPolicyDocument: ")
    # The editor shows selfiam's explanation (where, what), not only IAM's words (issue 15).
    assert "Policy statement must contain actions. (statement 1)" in html.unescape(error.group(1))
    assert broken in html.unescape(r.text)  # what was typed is kept
    assert r.text.index('id="policy-error"') < r.text.index('id="policy-document"')
    r = post_form(
        admin, f"{page}/inline", f"{page}/inline", PolicyName="p1", PolicyDocument=VALID_POLICY
    )
    assert r.status_code == 303 and r.headers["location"] == f"{page}?done=inline-saved"
    edit = admin.get(f"{page}/inline?policy=p1")
    assert "iam:GetUser" in html.unescape(edit.text) and 'value="p1"' in edit.text
    r = post_form(admin, f"{page}/inline/delete", page, PolicyName="p1")
    assert r.status_code == 303
    assert "No inline policies." in admin.get(page).text


def test_deactivate_a_users_credentials(
    admin: TestClient, runtime: Runtime, root_call: RootCall, with_mfa: Callable[[str], str]
) -> None:
    root_call("CreateUser", UserName="carol")
    key = root_call("CreateAccessKey", UserName="carol")["AccessKey"]["AccessKeyId"]
    with_mfa("carol")
    page = user_page("carol")
    shown = admin.get(page).text
    assert key in shown and f"Deactivate {key}" in shown and "Deactivate MFA device" in shown
    r = post_form(admin, f"{page}/credentials", page, kind="access-key", id=key, Status="Inactive")
    assert r.status_code == 303 and r.headers["location"] == f"{page}?done=credential-deactivated"
    assert key_refused(runtime, key)
    assert f"Activate {key}" in admin.get(page).text
    serial = root_call("ListMFADevices", UserName="carol")["MFADevices"][0]["SerialNumber"]
    r = post_form(admin, f"{page}/credentials", page, kind="mfa", id=serial)
    assert r.status_code == 303
    assert root_call("ListMFADevices", UserName="carol")["MFADevices"] == []
    r = post_form(admin, f"{page}/credentials", page, kind="password", id="x", Status="Inactive")
    assert r.status_code == 400


def test_unknown_user_page(admin: TestClient) -> None:
    r = admin.get(user_page("nobody"))
    assert r.status_code == 404 and "The user with name nobody cannot be found." in r.text


# -- account ------------------------------------------------------------------------------


def test_password_policy_form(admin: TestClient, root_call: RootCall) -> None:
    page = "/portal/admin/password-policy"
    assert "No custom policy is set" in admin.get(page).text
    r = post_form(
        admin,
        page,
        page,
        MinimumPasswordLength="14",
        PasswordReusePrevention="5",
        RequireSymbols="true",
        AllowUsersToChangePassword="true",
    )
    assert r.status_code == 303
    policy = root_call("GetAccountPasswordPolicy")["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 14 and policy["PasswordReusePrevention"] == 5
    assert policy["RequireSymbols"] and policy["AllowUsersToChangePassword"]
    assert not policy["RequireNumbers"]
    shown = admin.get(page).text
    assert (
        'value="14"' in shown
        and 'id="RequireSymbols" name="RequireSymbols" value="true" checked' in shown
    )
    r = post_form(admin, page, page, MinimumPasswordLength="3")
    assert r.status_code == 400
    assert "Member must have value greater than or equal to 6" in text_of(r.text)
    r = post_form(admin, page, page, MinimumPasswordLength="twelve")
    assert r.status_code == 400
    assert root_call("GetAccountPasswordPolicy")["PasswordPolicy"]["MinimumPasswordLength"] == 14


def test_audit_log_filtered_by_user_and_action(
    admin: TestClient, runtime: Runtime, root_call: RootCall
) -> None:
    post_form(admin, "/portal/admin/users", "/portal/admin/users", UserName="carol")
    runtime.audit.flush()
    page = admin.get("/portal/admin/audit", params={"user": "boss", "action": "iam:CreateUser"})
    assert page.status_code == 200
    rows = re.findall(r"<tr><td>.*?</tr>", page.text)
    assert len(rows) == 1 and ":user/boss" in rows[0] and ":user/carol" in rows[0]
    everything = admin.get("/portal/admin/audit").text
    assert "iam:CreateLoginProfile" in everything and "iam:AttachUserPolicy" in everything
    assert admin.get("/portal/admin/audit", params={"user": "nobody"}).text.count("<tr><td>") == 0


# -- a SelfService member: every admin form is refused by the policy engine ------------------


def test_a_member_gets_aws_access_denied(
    client: TestClient,
    account: str,
    member: Callable[..., str],
    root_call: RootCall,
    signed_in: Callable[..., TestClient],
    runtime: Runtime,
) -> None:
    member("alice")
    member("bob")
    key = root_call("CreateAccessKey", UserName="bob")["AccessKey"]["AccessKeyId"]
    signed_in("alice")
    bob = user_page("bob")
    # Reading is allowed by SelfService's read-only IAM; the buttons call the engine anyway.
    assert client.get("/portal/admin/users").status_code == 200
    attempts = [
        ("/portal/admin/users", "/portal/admin/users", {"UserName": "mallory"},
         "iam:CreateUser", f"arn:aws:iam::{account}:user/mallory"),
        (f"{bob}/groups", bob, {"change": "remove", "GroupName": "SelfService"},
         "iam:RemoveUserFromGroup", f"arn:aws:iam::{account}:group/SelfService"),
        (f"{bob}/policies", bob, {"change": "attach", "PolicyArn": ADMIN_ACCESS},
         "iam:AttachUserPolicy", f"arn:aws:iam::{account}:user/bob"),
        (f"{bob}/inline", f"{bob}/inline", {"PolicyName": "x", "PolicyDocument": VALID_POLICY},
         "iam:PutUserPolicy", f"arn:aws:iam::{account}:user/bob"),
        (f"{bob}/credentials", bob, {"kind": "access-key", "id": key, "Status": "Inactive"},
         "iam:UpdateAccessKey", f"arn:aws:iam::{account}:user/bob"),
        ("/portal/admin/password-policy", "/portal/admin/password-policy",
         {"MinimumPasswordLength": "6"}, "iam:UpdateAccountPasswordPolicy", "*"),
        (f"{bob}/offboard", bob, {}, "iam:DeleteUser", f"arn:aws:iam::{account}:user/bob"),
    ]  # fmt: skip
    for path, page, fields, action, resource in attempts:
        r = post_form(client, path, page, **fields)
        assert r.status_code == 403, (path, r.text)
        assert denied(account, "alice", action, resource) in text_of(r.text), path
    confirm = client.get(f"{bob}/offboard")
    assert confirm.status_code == 403 and "iam:DeleteUser" in confirm.text
    audit = client.get("/portal/admin/audit")
    assert audit.status_code == 403
    assert denied(account, "alice", "selfiam:ReadAuditLog", "*") in text_of(audit.text)
    # Nothing changed.
    assert not key_refused(runtime, key)
    assert root_call("ListGroupsForUser", UserName="bob")["Groups"]
    with pytest.raises(AwsError):
        root_call("GetUser", UserName="mallory")


def test_admin_forms_need_the_csrf_token(admin: TestClient, root_call: RootCall) -> None:
    root_call("CreateUser", UserName="carol")
    page = user_page("carol")
    for token in (None, "forged"):
        data = {"change": "add", "GroupName": "SelfService"}
        if token:
            data["csrf"] = token
        r = admin.post(f"{page}/groups", data=data, follow_redirects=False)
        assert r.status_code == 403 and "InvalidCsrfToken" in r.text
        r = admin.post(f"{page}/offboard", data=data, follow_redirects=False)
        assert r.status_code == 403 and "InvalidCsrfToken" in r.text
    assert root_call("ListGroupsForUser", UserName="carol")["Groups"] == []
    assert root_call("GetUser", UserName="carol")["User"]["UserName"] == "carol"
    assert csrf_of(admin.get(page).text)


# -- offboarding ----------------------------------------------------------------------------


def test_offboarding_in_one_step_ends_the_users_sessions(
    admin: TestClient,
    account: str,
    runtime: Runtime,
    member: Callable[..., str],
    root_call: RootCall,
    browser: Callable[[], TestClient],
) -> None:
    member("carol")
    key = root_call("CreateAccessKey", UserName="carol")["AccessKey"]["AccessKeyId"]
    root_call("PutUserPolicy", UserName="carol", PolicyName="extra", PolicyDocument=VALID_POLICY)
    carol = browser()
    assert sign_in(carol, account, "carol").status_code == 303
    assert carol.get("/portal/credentials").status_code == 200

    page = user_page("carol")
    confirm = admin.get(f"{page}/offboard")
    assert confirm.status_code == 200
    shown = text_of(confirm.text)
    for item in (key, "SelfService", "extra", "Console password", "1 signed-in session(s)"):
        assert item in shown, item
    assert root_call("GetUser", UserName="carol")  # the confirmation page removed nothing

    r = post_form(admin, f"{page}/offboard", f"{page}/offboard")
    assert r.status_code == 200, r.text
    assert "carol has been offboarded" in r.text and key in r.text

    after = carol.get("/portal/credentials", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"] == "/portal/signin"
    assert key_refused(runtime, key)
    with pytest.raises(AwsError):
        root_call("GetUser", UserName="carol")
    runtime.audit.flush()
    log = admin.get("/portal/admin/audit", params={"action": "selfiam:OffboardUser"}).text
    assert f"arn:aws:iam::{account}:user/carol" in log and "allowed" in log


def _passwordless(runtime: Runtime, account: str) -> bool:
    info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
    settings = runtime.invoke("selfiam", "GetAccountSignInSettings", {}, Caller.root(account), info)
    return bool(settings["PasswordlessSignIn"])


def test_the_admin_turns_passwordless_sign_in_on_and_off(
    admin: TestClient, runtime: Runtime, account: str
) -> None:
    """The portal's door to UpdateAccountSignInSettings (the CLI's `selfiam sign-in`)."""
    page = admin.get("/portal/admin/sign-in")
    assert page.status_code == 200 and 'id="passwordless"' in page.text
    assert " checked" not in page.text
    r = post_form(admin, "/portal/admin/sign-in", "/portal/admin/sign-in", passwordless="true")
    assert r.status_code == 303
    assert _passwordless(runtime, account) is True
    assert " checked" in admin.get("/portal/admin/sign-in").text
    r = post_form(admin, "/portal/admin/sign-in", "/portal/admin/sign-in")
    assert r.status_code == 303
    assert _passwordless(runtime, account) is False


def test_a_member_cannot_change_sign_in_settings(
    client: TestClient, runtime: Runtime, account: str, root_call: RootCall
) -> None:
    root_call("CreateUser", UserName="pat")
    root_call("CreateLoginProfile", UserName="pat", Password=PASSWORD)
    assert sign_in(client, account, "pat").status_code == 303
    r = post_form(client, "/portal/admin/sign-in", "/portal/credentials", passwordless="true")
    assert r.status_code == 403
    assert "is not authorized to perform: selfiam:UpdateAccountSignInSettings" in html.unescape(
        r.text
    )
    assert _passwordless(runtime, account) is False
