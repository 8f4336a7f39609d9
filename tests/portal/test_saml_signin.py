"""Signing in to the portal with a SAML response posted by a real (pysaml2) IdP, as AWS's
console accepts it at https://signin.aws.amazon.com/saml: no CSRF token (the IdP's site
posts it), a role picked when several are offered, RelayState never followed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from selfiam.service.runtime import Runtime
from support.clock import Clock
from support.saml_idp import ATTR, SamlIdp, aws_attributes


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> SamlIdp:
    return SamlIdp(tmp_path_factory.mktemp("idp"))


@pytest.fixture
def arns(
    root_call: Callable[..., dict[str, Any]], account: str, clock: Clock, idp: SamlIdp
) -> dict[str, str]:
    clock.now = datetime.now(UTC).replace(microsecond=0)  # pysaml2 uses the real time
    provider = root_call("CreateSAMLProvider", Name="corp", SAMLMetadataDocument=idp.metadata)
    provider_arn = provider["SAMLProviderArn"]
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithSAML",
                }
            ],
        }
    )
    out = {"provider": provider_arn}
    for name in ("engineers", "auditors"):
        out[name] = root_call("CreateRole", RoleName=name, AssumeRolePolicyDocument=trust)["Role"][
            "Arn"
        ]
    return out


def test_one_role_signs_in_at_once_without_csrf(
    client: TestClient, arns: dict[str, str], idp: SamlIdp, account: str
) -> None:
    response = idp.response(
        aws_attributes(arns["engineers"], arns["provider"], SessionDuration=["1800"])
    )
    r = client.post(
        "/portal/saml",
        data={"SAMLResponse": response, "RelayState": "https://evil.example/steal"},
        follow_redirects=False,
    )
    assert r.status_code == 200, r.text
    assert f"arn:aws:sts::{account}:assumed-role/engineers/alice" in r.text
    assert "evil.example" not in r.text and "location" not in r.headers
    # The cookie opens the session page again (same-site navigation).
    again = client.get("/portal/saml/session", follow_redirects=False)
    assert again.status_code == 200 and "assumed-role/engineers/alice" in again.text
    # The same response cannot sign in twice.
    replay = client.post("/portal/saml", data={"SAMLResponse": response}, follow_redirects=False)
    assert replay.status_code == 400 and "InvalidIdentityToken" in replay.text


def test_several_roles_are_offered_then_one_is_worn(
    client: TestClient, arns: dict[str, str], idp: SamlIdp, account: str
) -> None:
    attributes = aws_attributes(arns["engineers"], arns["provider"])
    attributes[ATTR + "Role"].append(f"{arns['provider']},{arns['auditors']}")
    response = idp.response(attributes)
    choose = client.post("/portal/saml", data={"SAMLResponse": response})
    assert choose.status_code == 200
    assert arns["engineers"] in choose.text and arns["auditors"] in choose.text
    picked = client.post("/portal/saml", data={"SAMLResponse": response, "role": arns["auditors"]})
    assert picked.status_code == 200
    assert f"arn:aws:sts::{account}:assumed-role/auditors/alice" in picked.text


def test_role_not_offered_is_refused(
    client: TestClient, arns: dict[str, str], idp: SamlIdp, root_call: Callable[..., Any]
) -> None:
    response = idp.response(aws_attributes(arns["engineers"], arns["provider"]))
    r = client.post("/portal/saml", data={"SAMLResponse": response, "role": arns["auditors"]})
    assert r.status_code == 403
    assert client.get("/portal/saml/session", follow_redirects=False).status_code == 303


def test_forged_response_is_refused(
    client: TestClient, arns: dict[str, str], tmp_path: Any
) -> None:
    forger = SamlIdp(tmp_path / "forger", name="forger")
    response = forger.response(aws_attributes(arns["engineers"], arns["provider"]))
    r = client.post("/portal/saml", data={"SAMLResponse": response})
    assert r.status_code == 400
    assert "Response signature invalid" in r.text
    assert "selfiam_saml_session" not in r.headers.get("set-cookie", "")


def test_sign_out_ends_the_session(
    client: TestClient, arns: dict[str, str], idp: SamlIdp, runtime: Runtime
) -> None:
    response = idp.response(aws_attributes(arns["engineers"], arns["provider"]))
    page = client.post("/portal/saml", data={"SAMLResponse": response})
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    out = client.post("/portal/saml/signout", data={"csrf": token.group(1)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].endswith(
        "/portal/signin?done=signed-out"
    )
    assert client.get("/portal/saml/session", follow_redirects=False).status_code == 303
