"""Service-specific credentials on "My security credentials": create (the password shown
once), reset, deactivate/activate, delete; a form forged to name another member's
credential is refused by the policy engine and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from support.portal import csrf_of

CREDS = "/portal/credentials"
SVC = f"{CREDS}/service-credentials"


def _post(client: TestClient, path: str, **fields: str) -> Any:
    token = csrf_of(client.get(CREDS).text)
    return client.post(path, data={"csrf": token, **fields}, follow_redirects=False)


def _listed(root_call: Callable[..., Any], user: str) -> list[dict[str, Any]]:
    return list(
        root_call("ListServiceSpecificCredentials", UserName=user)["ServiceSpecificCredentials"]
    )


def test_create_reset_deactivate_delete(
    signed_in: Any, member: Any, with_mfa: Any, root_call: Callable[..., Any], account: str
) -> None:
    member("alice")
    client = signed_in("alice", with_mfa("alice"))
    assert "Service-specific credentials" in client.get(CREDS).text
    created = _post(
        client, f"{SVC}/create", UserName="alice", ServiceName="codecommit.amazonaws.com"
    )
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    cred_id = re.search(r'id="service-credential-id">(ACCA\w+)<', created.text)
    password = re.search(r'id="service-password">([^<]+)<', created.text)
    assert cred_id and password and len(password.group(1)) == 44
    assert f'id="service-user-name">alice-at-{account}<' in created.text
    page = client.get(CREDS).text
    assert cred_id.group(1) in page and password.group(1) not in page  # shown once

    reset = _post(client, f"{SVC}/reset", ServiceSpecificCredentialId=cred_id.group(1))
    new = re.search(r'id="service-password">([^<]+)<', reset.text)
    assert reset.status_code == 200 and new and new.group(1) != password.group(1)

    r = _post(client, f"{SVC}/update", ServiceSpecificCredentialId=cred_id.group(1),
              Status="Inactive")  # fmt: skip
    assert r.headers["location"] == f"{CREDS}?done=svc-deactivated"
    assert [c["Status"] for c in _listed(root_call, "alice")] == ["Inactive"]
    _post(client, f"{SVC}/update", ServiceSpecificCredentialId=cred_id.group(1), Status="Active")
    assert [c["Status"] for c in _listed(root_call, "alice")] == ["Active"]

    _post(client, f"{SVC}/create", UserName="alice", ServiceName="codecommit.amazonaws.com")
    third = _post(client, f"{SVC}/create", UserName="alice", ServiceName="codecommit.amazonaws.com")
    assert third.status_code == 409 and "two credentials for this service" in third.text
    other = _post(client, f"{SVC}/create", UserName="alice", ServiceName="s3.amazonaws.com")
    assert other.status_code == 404 and "NotSupportedService" in other.text

    r = _post(client, f"{SVC}/delete", ServiceSpecificCredentialId=cred_id.group(1))
    assert r.headers["location"] == f"{CREDS}?done=svc-deleted"
    assert cred_id.group(1) not in {
        c["ServiceSpecificCredentialId"] for c in _listed(root_call, "alice")
    }


def test_without_mfa_the_policy_denies_creating_one(signed_in: Any, member: Any) -> None:
    member("alice")
    client = signed_in("alice")
    r = _post(client, f"{SVC}/create", UserName="alice", ServiceName="codecommit.amazonaws.com")
    assert r.status_code == 403
    assert "iam:CreateServiceSpecificCredential" in r.text and "explicit deny" in r.text


def test_a_forged_form_for_another_members_credential_is_refused(
    signed_in: Any, member: Any, with_mfa: Any, root_call: Callable[..., Any]
) -> None:
    member("alice")
    member("bob")
    bobs = root_call(
        "CreateServiceSpecificCredential", UserName="bob", ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    bob_id, bob_password = bobs["ServiceSpecificCredentialId"], bobs["ServicePassword"]
    client = signed_in("alice", with_mfa("alice"))
    forged = [
        (f"{SVC}/reset", {"ServiceSpecificCredentialId": bob_id}),
        (f"{SVC}/update", {"ServiceSpecificCredentialId": bob_id, "Status": "Inactive"}),
        (f"{SVC}/delete", {"ServiceSpecificCredentialId": bob_id}),
        (f"{SVC}/create", {"ServiceName": "codecommit.amazonaws.com"}),
    ]
    for path, fields in forged:
        r = _post(client, path, UserName="bob", **fields)
        assert r.status_code == 403, path
        assert ":user/bob" in r.text and bob_password not in r.text
    # naming bob's credential on her own user: not found, nothing of bob's shown
    r = _post(client, f"{SVC}/reset", UserName="alice", ServiceSpecificCredentialId=bob_id)
    assert r.status_code == 404
    assert [(c["ServiceSpecificCredentialId"], c["Status"]) for c in _listed(root_call, "bob")] == [
        (bob_id, "Active")
    ]
    # bob's page lists nothing of his service-specific credentials to alice
    assert bob_id not in client.get("/portal/users/bob").text
