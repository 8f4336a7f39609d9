"""The admin pages for roles against the real app: the paged list, create (the engine's
message next to the trust policy), trust/permissions/boundary/tags, and the live sessions
(listed and ended by an admin; a member's forged end-session is AccessDenied)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient

from selfiam.portal.paging import PAGE_SIZE
from selfiam.service.runtime import Runtime
from support.portal import PASSWORD, denied, post_form, sign_in, text_of

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
VALID_POLICY = (
    '{"Version": "2012-10-17", "Statement": '
    '[{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}'
)


RootCall = Callable[..., dict[str, Any]]
ROLES = "/portal/admin/roles"


def trust_of(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
            ],
        }
    )


@pytest.fixture
def admin(client: TestClient, account: str, root_call: RootCall) -> TestClient:
    root_call("CreateUser", UserName="boss")
    root_call("AttachUserPolicy", UserName="boss", PolicyArn=ADMIN_ACCESS)
    root_call("CreateLoginProfile", UserName="boss", Password=PASSWORD)
    assert sign_in(client, account, "boss").status_code == 303
    return client


def test_roles_are_listed_page_by_page(
    admin: TestClient, root_call: RootCall, account: str
) -> None:
    for i in range(PAGE_SIZE + 3):
        root_call("CreateRole", RoleName=f"r{i:03d}", AssumeRolePolicyDocument=trust_of(account))
    first = admin.get(ROLES).text
    last = f"r{PAGE_SIZE - 1:03d}"
    assert "r000" in first and last in first and f"r{PAGE_SIZE:03d}" not in first
    assert "Next page" in first
    marker = first.split("marker=", 1)[1].split('"', 1)[0]
    second = admin.get(f"{ROLES}?marker={marker}").text
    assert f"r{PAGE_SIZE:03d}" in second and f"r{PAGE_SIZE + 2:03d}" in second
    assert ">r000<" not in second


def test_create_role_shows_the_engines_message_and_keeps_the_text(
    admin: TestClient, account: str
) -> None:
    bad = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}'
    )
    r = post_form(admin, ROLES, ROLES, RoleName="Deploy", AssumeRolePolicyDocument=bad)
    assert r.status_code == 400
    page = text_of(r.text)
    assert "MalformedPolicyDocument:" in page
    assert "Missing required field Principal. (statement 1)" in page  # what is missing, where
    assert "sts:AssumeRole" in page and 'aria-invalid="true"' in r.text
    r = post_form(
        admin,
        ROLES,
        ROLES,
        RoleName="Deploy",
        Description="deploys",
        MaxSessionDuration="7200",
        AssumeRolePolicyDocument=trust_of(f"arn:aws:iam::{account}:user/boss"),
    )
    assert r.status_code == 303 and r.headers["location"].endswith(
        "/admin/roles/Deploy?done=role-created"
    )
    page = text_of(admin.get(f"{ROLES}/Deploy").text)
    assert f"arn:aws:iam::{account}:role/Deploy" in page and "7200 seconds" in page
    assert f"arn:aws:iam::{account}:user/boss" in page
    r = post_form(
        admin, ROLES, ROLES, RoleName="deploy", AssumeRolePolicyDocument=trust_of(account)
    )
    assert r.status_code == 409 and "EntityAlreadyExists" in r.text


def test_trust_permissions_boundary_and_tags(
    admin: TestClient, root_call: RootCall, account: str
) -> None:
    root_call("CreateRole", RoleName="Ops", AssumeRolePolicyDocument=trust_of(account))
    page = f"{ROLES}/Ops"
    r = post_form(
        admin, f"{page}/trust", f"{page}/trust", PolicyDocument='{"Version": "2012-10-17"}'
    )
    assert r.status_code == 400 and "MalformedPolicyDocument" in r.text
    r = post_form(
        admin,
        f"{page}/trust",
        f"{page}/trust",
        PolicyDocument=trust_of(f"arn:aws:iam::{account}:user/boss"),
    )
    assert r.status_code == 303
    assert "user/boss" in unquote(
        root_call("GetRole", RoleName="Ops")["Role"]["AssumeRolePolicyDocument"]
    )
    assert (
        post_form(admin, f"{page}/policies", page, change="attach", PolicyArn=READ_ONLY).status_code
        == 303
    )
    assert (
        root_call("ListAttachedRolePolicies", RoleName="Ops")["AttachedPolicies"][0]["PolicyArn"]
        == READ_ONLY
    )
    assert (
        post_form(admin, f"{page}/policies", page, change="detach", PolicyArn=READ_ONLY).status_code
        == 303
    )
    r = post_form(
        admin, f"{page}/inline", f"{page}/inline", PolicyName="p", PolicyDocument=VALID_POLICY
    )
    assert r.status_code == 303
    assert root_call("ListRolePolicies", RoleName="Ops")["PolicyNames"] == ["p"]
    assert (
        post_form(
            admin, f"{page}/boundary", page, change="set", PermissionsBoundary=READ_ONLY
        ).status_code
        == 303
    )
    assert READ_ONLY in admin.get(page).text
    assert post_form(admin, f"{page}/boundary", page, change="remove").status_code == 303
    assert "PermissionsBoundary" not in root_call("GetRole", RoleName="Ops")["Role"]
    assert (
        post_form(admin, f"{page}/tags", page, change="add", Key="team", Value="infra").status_code
        == 303
    )
    assert "team = infra" in text_of(admin.get(page).text)
    assert post_form(admin, f"{page}/tags", page, change="remove", Key="team").status_code == 303
    assert root_call("ListRoleTags", RoleName="Ops")["Tags"] == []


def test_admin_sees_and_ends_a_members_portal_session(
    admin: TestClient,
    root_call: RootCall,
    member: Callable[..., str],
    account: str,
    runtime: Runtime,
    tmp_path: Any,
) -> None:
    from starlette.testclient import TestClient as Client

    from selfiam.app import create_app
    from support.portal import app_settings

    member("alice", group=None)
    root_call(
        "CreateRole",
        RoleName="Deploy",
        AssumeRolePolicyDocument=trust_of(f"arn:aws:iam::{account}:user/alice"),
    )
    with Client(create_app(app_settings(tmp_path), runtime=runtime)) as alice:
        assert sign_in(alice, account, "alice").status_code == 303
        r = post_form(alice, "/portal/switch-role", "/portal/switch-role", Role="Deploy")
        assert r.status_code == 303
        assert f"role/Deploy @ {account}" in alice.get("/portal/role").text
        page = text_of(admin.get(f"{ROLES}/Deploy").text)
        assert f"alice arn:aws:iam::{account}:user/alice" in page and "portal" in page
        key = (
            admin.get(f"{ROLES}/Deploy")
            .text.split('name="AccessKeyId" value="', 1)[1]
            .split('"', 1)[0]
        )
        r = post_form(admin, f"{ROLES}/Deploy/sessions/end", f"{ROLES}/Deploy", AccessKeyId=key)
        assert r.status_code == 303
        assert "No live sessions." in admin.get(f"{ROLES}/Deploy").text
        # alice's next page: the role session is gone, she is herself again.
        r = alice.get("/portal/role", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("/switch-role")
        assert "role/Deploy @" not in alice.get("/portal/switch-role").text


def test_a_member_may_neither_list_nor_end_a_roles_sessions(
    root_call: RootCall,
    member: Callable[..., str],
    account: str,
    runtime: Runtime,
    signed_in: Callable[..., TestClient],
) -> None:
    from selfiam.domain.identifiers import new_request_id
    from selfiam.service.caller import Caller, RequestInfo

    member("mallory")  # SelfService: every IAM read, and iam:* does not open selfiam:*
    alice_arn = f"arn:aws:iam::{account}:user/alice"
    member("alice", group=None)
    root_call("CreateRole", RoleName="Deploy", AssumeRolePolicyDocument=trust_of(alice_arn))
    info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
    alice = root_call("GetUser", UserName="alice")["User"]
    caller = Caller(account_id=account, arn=alice_arn, user_id=alice["UserId"], user_name="alice")
    key = runtime.invoke(
        "sts",
        "AssumeRole",
        {"RoleArn": f"arn:aws:iam::{account}:role/Deploy", "RoleSessionName": "alice"},
        caller,
        info,
    )["Credentials"]["AccessKeyId"]
    client = signed_in("mallory")
    page = text_of(client.get(f"{ROLES}/Deploy").text)
    role = f"arn:aws:iam::{account}:role/Deploy"
    assert denied(account, "mallory", "selfiam:ListRoleSessions", role) in page
    r = post_form(client, f"{ROLES}/Deploy/sessions/end", f"{ROLES}/Deploy", AccessKeyId=key)
    assert r.status_code == 403
    assert denied(account, "mallory", "selfiam:RevokeRoleSession", role) in text_of(r.text)
    listed = runtime.invoke(
        "selfiam", "ListRoleSessions", {"RoleName": "Deploy"}, Caller.root(account), info
    )["Sessions"]
    assert [s["AccessKeyId"] for s in listed] == [key]


def test_the_buttons_of_admin_pages_post_to_the_portal_with_the_csrf_token(
    admin: TestClient, root_call: RootCall, account: str
) -> None:
    """The shared ``post`` macro sees the page's base path and CSRF token (it was imported
    without the template's context: its forms posted to ``/admin/...`` outside the portal,
    with an empty token)."""
    root_call("CreateRole", RoleName="Ops", AssumeRolePolicyDocument=trust_of(account))
    root_call("TagRole", RoleName="Ops", Tags=[{"Key": "team", "Value": "infra"}])
    root_call("CreateGroup", GroupName="devs")
    root_call("AddUserToGroup", GroupName="devs", UserName="boss")
    for page, button in (
        (f"{ROLES}/Ops", "Remove tag team"),
        ("/portal/admin/users/boss", "Remove from devs"),
    ):
        body = admin.get(page).text
        form = body.split(f">{button}</button>", 1)[0].rsplit("<form", 1)[1]
        assert 'action="/portal/admin/' in form, form
        token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert len(token) == 64


def test_what_does_not_exist_is_a_404_page_naming_it(
    admin: TestClient, root_call: RootCall, account: str
) -> None:
    for path in (f"{ROLES}/Nope", f"{ROLES}/Nope/trust"):
        r = admin.get(path)
        assert r.status_code == 404
        assert "The role with name Nope cannot be found." in r.text
    root_call("CreateRole", RoleName="Real", AssumeRolePolicyDocument=trust_of(account))
    r = admin.get(f"{ROLES}/Real/inline?policy=Missing")
    assert r.status_code == 404
    assert "The role policy with name Missing cannot be found." in r.text
