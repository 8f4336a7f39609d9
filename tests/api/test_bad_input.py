"""Model-valid input that AWS refuses gets AWS's 4xx, never a 500 from a database constraint."""

from __future__ import annotations

import pytest
from tests.api.conftest import Api, error_code, error_message

from selfiam.domain.arns import aws_managed_policy_arn

EXPIRED_REFUSED = (
    "1 validation error detected: Value 'Expired' at 'status' failed to satisfy constraint:"
    " Member must satisfy enum value set: [Active, Inactive]"
)


@pytest.fixture
def admin(api: Api) -> Api:
    """The API with ``alice`` (whose key signs) an administrator."""
    api.root(
        "AttachUserPolicy",
        UserName="alice",
        PolicyArn=aws_managed_policy_arn("AdministratorAccess"),
    )
    return api


def test_update_access_key_to_expired_is_a_validation_error(admin: Api) -> None:
    """botocore's statusType allows Expired; AWS's API reference lists UpdateAccessKey's
    Status as ``Active | Inactive`` (API_UpdateAccessKey.html). It answered 500 before."""
    params = {
        "Action": "UpdateAccessKey",
        "Version": "2010-05-08",
        "AccessKeyId": admin.key_id,
        "Status": "Expired",
    }
    status, text = admin.send(params, service="iam")
    assert status == 400, text
    assert (error_code(text), error_message(text)) == ("ValidationError", EXPIRED_REFUSED)
    keys = admin.root("ListAccessKeys", UserName="alice")["AccessKeyMetadata"]
    assert [k["Status"] for k in keys] == ["Active"]


def test_credential_report_not_present_has_no_message(admin: Api) -> None:
    """AWS's recorded ReportNotPresent (410) has a Code and no Message element."""
    status, text = admin.send(
        {"Action": "GetCredentialReport", "Version": "2010-05-08"}, service="iam"
    )
    assert status == 410
    assert error_code(text) == "ReportNotPresent"
    assert "<Message>" not in text


def test_simulate_principal_policy_has_the_organizations_decision(admin: Api) -> None:
    """AWS's recorded SimulatePrincipalPolicy results carry OrganizationsDecisionDetail;
    an account in no organization: allowed by Organizations."""
    status, text = admin.send(
        {
            "Action": "SimulatePrincipalPolicy",
            "Version": "2010-05-08",
            "PolicySourceArn": "arn:aws:iam::123456789012:user/alice",
            "ActionNames.member.1": "iam:GetUser",
        },
        service="iam",
    )
    assert status == 200, text
    assert (
        "<OrganizationsDecisionDetail><AllowedByOrganizations>true</AllowedByOrganizations>"
        "</OrganizationsDecisionDetail>"
    ) in text
