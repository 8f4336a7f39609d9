from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from support.portal import sign_in


def test_member_signs_in_and_sees_the_portal(client: TestClient, account: str, member: Any) -> None:
    member("alice")
    r = sign_in(client, account, "alice")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/portal/"
    page = client.get("/portal/", follow_redirects=False)
    assert page.status_code == 303
