"""Switch role in the portal: the list of roles the engine says trust the member, AssumeRole
as the member (AWS's AccessDenied for a role not meant for them), the switched view acting
as the role session, command-line credentials, and every way the worn session ends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from selfiam.domain.errors import InvalidClientTokenId
from selfiam.domain.identifiers import new_request_id
from selfiam.service.caller import Caller, RequestInfo
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from support.clock import Clock
from support.portal import mfa_code, post_form

READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
SCOPE = ("20261127", "us-east-1", "sts")
RootCall = Callable[..., dict[str, Any]]


def trust(principal: str, *, mfa: bool = False) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def user(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:user/{name}"


@pytest.fixture
def roles(root_call: RootCall, account: str, member: Callable[..., str]) -> None:
    """alice (no policy of her own) and bob (SelfService); Deploy (IAM read-only) trusts
    alice, Other trusts bob, Guarded trusts alice with MFA."""
    member("alice", group=None)
    member("bob")
    root_call(
        "CreateRole", RoleName="Deploy", AssumeRolePolicyDocument=trust(user(account, "alice"))
    )
    root_call("AttachRolePolicy", RoleName="Deploy", PolicyArn=READ_ONLY)
    root_call("CreateRole", RoleName="Other", AssumeRolePolicyDocument=trust(user(account, "bob")))
    root_call(
        "CreateRole",
        RoleName="Guarded",
        AssumeRolePolicyDocument=trust(user(account, "alice"), mfa=True),
    )


def worn_count(runtime: Runtime) -> int:
    rs = t.role_sessions
    with runtime.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(rs).where(rs.c.portal_session_id.is_not(None))
            ).scalar_one()
        )


def switch(client: TestClient, role: str, **fields: str) -> Any:
    return post_form(client, "/portal/switch-role", "/portal/switch-role", Role=role, **fields)


def credentials_of(page: str) -> tuple[str, str, str]:
    def one(name: str) -> str:
        found = re.search(rf'id="{name}">([^<]+)<', page)
        assert found, name
        return found.group(1)

    return one("temp-access-key-id"), one("temp-secret-access-key"), one("temp-session-token")


def test_the_list_shows_only_roles_whose_trust_admits_the_member(
    roles: None, signed_in: Callable[..., TestClient]
) -> None:
    page = signed_in("alice").get("/portal/switch-role").text
    assert "Switch to Deploy" in page
    assert "Switch to Other" not in page
    # Guarded needs MFA: alice signed in without, so the form asks for a code.
    assert "Switch to Guarded" in page and "MFA code (required by the role)" in page


def test_switch_acts_as_the_role_and_back_ends_the_session(
    roles: None, signed_in: Callable[..., TestClient], account: str, runtime: Runtime
) -> None:
    client = signed_in("alice")
    # As herself, alice may not list users.
    assert "not authorized to perform: iam:ListUsers" in client.get("/portal/users").text
    r = switch(client, "Deploy")
    assert r.status_code == 303 and r.headers["location"].endswith(
        "/portal/role?done=role-switched"
    )
    page = client.get("/portal/role").text
    assert f"role/Deploy @ {account}" in page
    assert f"arn:aws:sts::{account}:assumed-role/Deploy/alice" in page
    assert worn_count(runtime) == 1
    # The directory shows what the role may read (IAMReadOnlyAccess).
    assert "alice" in client.get("/portal/users").text
    assert "not authorized" not in client.get("/portal/users").text
    # Her own credentials are managed as herself: the page sends her to the role's page.
    r = client.get("/portal/credentials", follow_redirects=False)
    assert r.status_code == 303 and "/portal/role" in r.headers["location"]
    r = post_form(client, "/portal/switch-role/back", "/portal/role")
    assert r.status_code == 303 and r.headers["location"].endswith(
        "/portal/credentials?done=role-left"
    )
    assert worn_count(runtime) == 0
    assert "not authorized to perform: iam:ListUsers" in client.get("/portal/users").text


def test_a_forged_switch_to_a_role_not_meant_for_the_member_is_access_denied(
    roles: None, signed_in: Callable[..., TestClient], account: str, runtime: Runtime
) -> None:
    client = signed_in("alice")
    for typed in ("Other", f"arn:aws:iam::{account}:role/Other", "NoSuchRole"):
        r = switch(client, typed)
        assert r.status_code == 403, r.text
        name = typed.rsplit("/", 1)[-1]
        assert (
            f"AccessDenied: User: arn:aws:iam::{account}:user/alice is not authorized to perform: "
            f"sts:AssumeRole on resource: arn:aws:iam::{account}:role/{name}"
        ) in r.text.replace("&#34;", '"')
    assert worn_count(runtime) == 0
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.role_sessions)).scalar_one() == 0


def test_a_role_requiring_mfa_takes_a_code_checked_by_assume_role(
    roles: None,
    signed_in: Callable[..., TestClient],
    with_mfa: Callable[[str], str],
    clock: Clock,
    account: str,
    runtime: Runtime,
) -> None:
    client = signed_in("alice")
    seed = with_mfa("alice")  # enabled after she signed in: this session has no MFA
    r = switch(client, "Guarded")
    assert r.status_code == 403
    assert "sts:AssumeRole on resource" in r.text
    r = switch(
        client, "Guarded", TokenCode="000000" if mfa_code(seed, clock.now) != "000000" else "111111"
    )
    assert r.status_code == 403
    assert "MultiFactorAuthentication failed with invalid MFA one time pass code." in r.text
    r = switch(client, "Guarded", TokenCode=mfa_code(seed, clock.now))
    assert r.status_code == 303, r.text
    assert f"role/Guarded @ {account}" in client.get("/portal/role").text


def test_mfa_sign_in_counts_for_a_role_requiring_mfa(
    roles: None,
    signed_in: Callable[..., TestClient],
    with_mfa: Callable[[str], str],
    account: str,
) -> None:
    seed = with_mfa("alice")
    client = signed_in("alice", seed)
    page = client.get("/portal/switch-role").text
    assert "Switch to Guarded" in page and "required by the role" not in page
    assert switch(client, "Guarded").status_code == 303
    assert f"role/Guarded @ {account}" in client.get("/portal/role").text


def test_cli_credentials_are_a_fresh_session_shown_once_and_revocable(
    roles: None,
    signed_in: Callable[..., TestClient],
    account: str,
    runtime: Runtime,
    root_call: RootCall,
) -> None:
    client = signed_in("alice")
    switch(client, "Deploy")
    r = post_form(client, "/portal/role/credentials", "/portal/role", DurationSeconds="3600")
    assert r.status_code == 200
    key, secret, token = credentials_of(r.text)
    assert key.startswith("ASIA") and secret not in r.headers.get("location", "")
    assert f"export AWS_SESSION_TOKEN={token}" in r.text
    assert "[Deploy]\naws_access_key_id = " + key in r.text
    caller, _ = runtime.authenticate_access_key(key, SCOPE, token)
    assert caller.arn == f"arn:aws:sts::{account}:assumed-role/Deploy/alice"
    # Not the worn session: the portal keeps its own.
    assert worn_count(runtime) == 1
    info = RequestInfo(request_id=new_request_id(), now=runtime.clock())
    listed = runtime.invoke(
        "selfiam", "ListRoleSessions", {"RoleName": "Deploy"}, Caller.root(account), info
    )["Sessions"]
    assert {s["AccessKeyId"] for s in listed} >= {key}
    assert {s["InPortal"] for s in listed} == {True, False}
    runtime.invoke(
        "selfiam",
        "RevokeRoleSession",
        {"RoleName": "Deploy", "AccessKeyId": key},
        Caller.root(account),
        info,
    )
    with pytest.raises(InvalidClientTokenId):
        runtime.authenticate_access_key(key, SCOPE, token)


def test_wearing_ends_with_the_portal_session_the_role_and_expiry(
    roles: None,
    signed_in: Callable[..., TestClient],
    runtime: Runtime,
    root_call: RootCall,
    clock: Clock,
) -> None:
    client = signed_in("alice")
    switch(client, "Deploy")
    assert worn_count(runtime) == 1
    post_form(client, "/portal/signout", "/portal/role")
    assert worn_count(runtime) == 0

    client = signed_in("alice")
    switch(client, "Deploy")
    root_call("DetachRolePolicy", RoleName="Deploy", PolicyArn=READ_ONLY)
    root_call("DeleteRole", RoleName="Deploy")
    assert worn_count(runtime) == 0
    page = client.get("/portal/switch-role").text
    assert "role/Deploy" not in page

    assert switch(client, "Deploy").status_code == 403  # gone: AccessDenied, nothing worn
    assert worn_count(runtime) == 0


def test_session_token_for_the_member_themself(
    roles: None, signed_in: Callable[..., TestClient], account: str, runtime: Runtime
) -> None:
    client = signed_in("alice")
    r = post_form(
        client, "/portal/credentials/temporary", "/portal/credentials", DurationSeconds="3600"
    )
    assert r.status_code == 200, r.text
    key, _, token = credentials_of(r.text)
    caller, _ = runtime.authenticate_access_key(key, SCOPE, token)
    assert caller.arn == user(account, "alice") and caller.mfa_authenticated_at is None


def test_an_expired_role_session_is_worn_no_more(
    roles: None, signed_in: Callable[..., TestClient], clock: Clock, runtime: Runtime
) -> None:
    client = signed_in("alice")
    switch(client, "Deploy")
    for _ in range(3):  # within the portal's idle timeout each time
        clock.now += timedelta(minutes=19, seconds=59)
        assert "role/Deploy @" in client.get("/portal/role").text
    clock.now += timedelta(seconds=3)
    r = client.get("/portal/role", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/portal/switch-role")
    assert "not authorized to perform: iam:ListUsers" in client.get("/portal/users").text


def test_deleting_the_member_ends_the_worn_session(
    roles: None, signed_in: Callable[..., TestClient], root_call: RootCall, runtime: Runtime
) -> None:
    client = signed_in("alice")
    switch(client, "Deploy")
    assert worn_count(runtime) == 1
    root_call("DeleteLoginProfile", UserName="alice")
    root_call("DeleteUser", UserName="alice")
    assert worn_count(runtime) == 0
    r = client.get("/portal/role", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/portal/signin")
