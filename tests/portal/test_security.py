"""Headers on every portal response, CSRF on every form, errors as pages."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from support.portal import csrf_of, sign_in


def _strict(headers: Any) -> None:
    csp = headers["content-security-policy"]
    # One script, served by selfiam itself (passkeys): no inline script, no other origin.
    assert "default-src 'self'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"


def test_every_portal_response_carries_the_headers(
    client: TestClient, account: str, member: Any
) -> None:
    _strict(client.get("/portal/signin").headers)
    _strict(client.get("/portal/static/portal.css").headers)
    _strict(client.get("/portal/credentials", follow_redirects=False).headers)
    _strict(client.get("/portal/nowhere").headers)
    member("alice")
    sign_in(client, account, "alice")
    _strict(client.get("/portal/credentials").headers)
    _strict(client.get("/portal/users/nobody").headers)


def test_the_one_script_is_served_from_the_portal_and_no_page_has_inline_script(
    client: TestClient, account: str, member: Any
) -> None:
    script = client.get("/portal/static/webauthn.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    _strict(script.headers)
    assert "navigator.credentials.create" in script.text and "http" not in script.text
    member("alice")
    sign_in(client, account, "alice")
    page = client.get("/portal/credentials").text
    assert "<script>" not in page and "onclick" not in page.lower()


def test_the_api_is_still_at_the_root(client: TestClient) -> None:
    r = client.post("/", data={"Action": "ListUsers", "Version": "2010-05-08"})
    assert r.status_code in (400, 403)
    assert r.headers["content-type"].startswith("text/xml")


def test_sign_in_form_needs_its_csrf_token(client: TestClient, account: str, member: Any) -> None:
    member("alice")
    form = {"account": account, "username": "alice", "password": "x"}
    r = client.post("/portal/signin", data=form, follow_redirects=False)
    assert r.status_code == 403
    # A token from another browser's nonce is no good either.
    other = TestClient(client.app)
    token = csrf_of(other.get("/portal/signin").text)
    client.cookies.clear()
    r = client.post("/portal/signin", data={**form, "csrf": token}, follow_redirects=False)
    assert r.status_code == 403


def test_member_forms_need_the_sessions_token(
    client: TestClient, account: str, member: Any
) -> None:
    member("alice")
    member("bob")
    other = TestClient(client.app)
    sign_in(other, account, "bob")
    bobs_token = csrf_of(other.get("/portal/credentials").text)
    sign_in(client, account, "alice")
    for token in (None, "", bobs_token, "0" * 64):
        data = {"format": "page"} if token is None else {"format": "page", "csrf": token}
        r = client.post("/portal/credentials/access-keys/create", data=data)
        assert r.status_code == 403
        assert "This form has expired" in r.text
    r = client.post("/portal/signout", data={}, follow_redirects=False)
    assert r.status_code == 403


def test_service_errors_are_pages_not_tracebacks(
    client: TestClient, account: str, member: Any
) -> None:
    member("alice")
    sign_in(client, account, "alice")
    r = client.get("/portal/users/nobody")
    assert r.status_code == 404
    assert "The user with name nobody cannot be found." in r.text
    assert "Traceback" not in r.text


def test_pages_escape_what_users_typed(client: TestClient, account: str) -> None:
    r = client.get("/portal/signin?account=<script>alert(1)</script>")
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text


def test_every_form_posts_within_the_portal_with_its_token(
    signed_in: Any, member: Any, with_mfa: Any
) -> None:
    import re

    member("alice")
    client = signed_in("alice", with_mfa("alice"))
    client.post(
        "/portal/credentials/access-keys/create",
        data={"csrf": csrf_of(client.get("/portal/credentials").text), "format": "page"},
    )
    page = client.get("/portal/credentials").text
    forms = re.findall(r"<form[^>]*>.*?</form>", page, re.S)
    assert len(forms) >= 6
    token = csrf_of(page)
    for form in forms:
        assert 'method="post"' in form
        assert re.search(r'action="/portal/[^"]+"', form), form
        assert f'name="csrf" value="{token}"' in form
        assert "<button" in form
    labels = set(re.findall(r'<label for="([^"]+)"', page))
    inputs = set(re.findall(r'<(?:input|textarea) id="([^"]+)"', page))
    assert inputs <= labels  # every visible input is labelled
