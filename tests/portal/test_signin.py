"""Sign-in: one generic message, throttling, the MFA step, forced password change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.testclient import TestClient

from selfiam.app import create_app
from selfiam.service.portal_signin import INCORRECT, THROTTLED
from support.portal import PASSWORD, app_settings, mfa_code, post_form, sign_in


def test_sign_in_opens_a_session_with_a_strict_cookie(
    client: TestClient, account: str, member: Any
) -> None:
    member("alice")
    r = sign_in(client, account, "alice")
    assert r.status_code == 303
    assert r.headers["location"] == "/portal/"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("selfiam_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/portal" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    page = client.get("/portal/credentials")
    assert page.status_code == 200
    assert "My security credentials" in page.text and "alice" in page.text


def test_cookie_is_secure_over_tls(runtime: Any, tmp_path: Any, account: str, member: Any) -> None:
    member("alice")
    app = create_app(app_settings(tmp_path), runtime=runtime)
    with TestClient(app, base_url="https://testserver") as tls:
        r = sign_in(tls, account, "alice")
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("selfiam_session="))
    assert "Secure" in cookie


def test_every_failure_gets_the_same_message(
    client: TestClient, account: str, member: Any, root_call: Callable[..., Any]
) -> None:
    member("alice")
    member("nopass", group=None)
    root_call("DeleteLoginProfile", UserName="nopass")
    attempts = [
        (account, "alice", "wrong-password"),
        (account, "nobody", PASSWORD),
        (account, "nopass", PASSWORD),
        ("999999999999", "alice", PASSWORD),
        ("no-such-alias", "alice", PASSWORD),
    ]
    for acct, user, password in attempts:
        r = sign_in(client, acct, user, password)
        assert r.status_code == 401
        assert INCORRECT in r.text
        assert "selfiam_session=" not in r.headers.get("set-cookie", "")


def test_sign_in_with_the_account_alias(
    client: TestClient, member: Any, root_call: Callable[..., Any]
) -> None:
    member("alice")
    root_call("CreateAccountAlias", AccountAlias="example-team")
    assert sign_in(client, "example-team", "alice").status_code == 303


def test_failures_are_throttled_per_user_name(
    client: TestClient, account: str, member: Any, clock: Any
) -> None:
    member("alice")
    for _ in range(5):
        assert sign_in(client, account, "alice", "guess").status_code == 401
    refused = sign_in(client, account, "alice")  # the right password, too late
    assert refused.status_code == 401 and THROTTLED in refused.text
    clock.now += timedelta(minutes=16)
    assert sign_in(client, account, "alice").status_code == 303


def test_throttling_does_not_tell_which_users_exist(
    client: TestClient, account: str, member: Any
) -> None:
    for _ in range(5):
        sign_in(client, account, "ghost", "guess")
    assert THROTTLED in sign_in(client, account, "ghost", "guess").text


def test_failures_are_throttled_per_source_address(
    client: TestClient, account: str, member: Any
) -> None:
    member("alice")
    for i in range(5):
        sign_in(client, account, f"user{i}", "guess")
    assert THROTTLED in sign_in(client, account, "alice").text


def test_mfa_user_is_half_signed_in_until_the_code(
    client: TestClient, account: str, member: Any, with_mfa: Any, clock: Any
) -> None:
    member("alice")
    seed = with_mfa("alice")
    r = sign_in(client, account, "alice")
    assert r.headers["location"] == "/portal/signin/mfa"
    half = r.cookies.get("selfiam_session") or client.cookies.get("selfiam_session")
    # The half-signed-in session can do nothing else.
    for path in ("/portal/credentials", "/portal/users", "/portal/password"):
        assert client.get(path, follow_redirects=False).headers["location"] == "/portal/signin/mfa"
    wrong = post_form(client, "/portal/signin/mfa", "/portal/signin/mfa", code="000000")
    assert wrong.status_code == 401 and "MFA code is not valid" in wrong.text
    ok = post_form(
        client, "/portal/signin/mfa", "/portal/signin/mfa", code=mfa_code(seed, clock.now)
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/portal/"
    assert client.cookies.get("selfiam_session") != half  # a new session id after MFA
    page = client.get("/portal/credentials")
    assert "Signed in with MFA</dt><dd>Yes" in page.text


def test_an_mfa_code_is_accepted_once(
    client: TestClient, account: str, member: Any, with_mfa: Any, clock: Any
) -> None:
    member("alice")
    seed = with_mfa("alice")
    code = mfa_code(seed, clock.now)
    sign_in(client, account, "alice")
    assert (
        post_form(client, "/portal/signin/mfa", "/portal/signin/mfa", code=code).status_code == 303
    )
    client.cookies.clear()
    sign_in(client, account, "alice")
    again = post_form(client, "/portal/signin/mfa", "/portal/signin/mfa", code=code)
    assert again.status_code == 401


def test_reset_required_leads_only_to_the_password_page(
    client: TestClient, account: str, member: Any
) -> None:
    member("alice", reset=True)
    r = sign_in(client, account, "alice")
    assert r.headers["location"] == "/portal/password"
    assert client.get("/portal/credentials", follow_redirects=False).headers["location"] == (
        "/portal/password"
    )
    page = client.get("/portal/password")
    assert "Password policy" in page.text and "At least 8 characters" in page.text
    weak = post_form(
        client,
        "/portal/password",
        "/portal/password",
        old_password=PASSWORD,
        new_password="short",
        confirm_password="short",
    )
    assert weak.status_code == 400
    assert "at least 8 characters long" in weak.text
    mismatch = post_form(
        client,
        "/portal/password",
        "/portal/password",
        old_password=PASSWORD,
        new_password="Another-Passw0rd!",
        confirm_password="Another-Passw0rd?",
    )
    assert "do not match" in mismatch.text
    done = post_form(
        client,
        "/portal/password",
        "/portal/password",
        old_password=PASSWORD,
        new_password="Another-Passw0rd!",
        confirm_password="Another-Passw0rd!",
    )
    assert done.status_code == 303
    assert client.get("/portal/credentials").status_code == 200


def test_sign_out_ends_the_session(client: TestClient, account: str, member: Any) -> None:
    member("alice")
    sign_in(client, account, "alice")
    token = client.cookies.get("selfiam_session")
    out = post_form(client, "/portal/signout", "/portal/credentials")
    assert out.status_code == 303 and out.headers["location"] == "/portal/signin?done=signed-out"
    client.cookies.clear()
    client.cookies.set("selfiam_session", str(token), path="/portal")
    r = client.get("/portal/credentials", follow_redirects=False)
    assert r.headers["location"] == "/portal/signin"
