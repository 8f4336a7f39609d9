"""The admin portal: the account's server certificates (read-only, never the key), and a
user's service-specific credentials deactivated and activated from the user's page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from support.portal import PASSWORD, post_form, sign_in
from support.server_certs import upload

ADMIN_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
RootCall = Callable[..., dict[str, Any]]


@pytest.fixture
def admin(client: TestClient, account: str, root_call: RootCall) -> TestClient:
    root_call("CreateUser", UserName="boss")
    root_call("AttachUserPolicy", UserName="boss", PolicyArn=ADMIN_ACCESS)
    root_call("CreateLoginProfile", UserName="boss", Password=PASSWORD)
    assert sign_in(client, account, "boss").status_code == 303
    return client


def test_server_certificates_are_listed_without_their_keys(
    admin: TestClient, root_call: RootCall
) -> None:
    assert "No server certificates." in admin.get("/portal/admin/server-certificates").text
    up = upload()
    cert_id = root_call(
        "UploadServerCertificate",
        ServerCertificateName="web",
        Path="/cloudfront/",
        CertificateBody=up.body,
        PrivateKey=up.private_key,
    )["ServerCertificateMetadata"]["ServerCertificateId"]
    page = admin.get("/portal/admin/server-certificates")
    assert page.status_code == 200
    assert "web" in page.text and cert_id in page.text and "/cloudfront/" in page.text
    assert "PRIVATE KEY" not in page.text and up.private_key.splitlines()[1] not in page.text


def test_a_users_service_credential_is_deactivated_and_activated(
    admin: TestClient, root_call: RootCall
) -> None:
    root_call("CreateUser", UserName="dev")
    cred_id = root_call(
        "CreateServiceSpecificCredential", UserName="dev", ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    page = "/portal/admin/users/dev"
    assert cred_id in admin.get(page).text

    def status() -> str:
        listed = root_call("ListServiceSpecificCredentials", UserName="dev")
        return str(listed["ServiceSpecificCredentials"][0]["Status"])

    kind = "service-credential"
    r = post_form(admin, f"{page}/credentials", page, kind=kind, id=cred_id, Status="Inactive")
    assert r.status_code == 303 and status() == "Inactive"
    post_form(admin, f"{page}/credentials", page, kind=kind, id=cred_id, Status="Active")
    assert status() == "Active"
