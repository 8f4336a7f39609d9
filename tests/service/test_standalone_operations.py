"""The account-level and newer operations of the IAM and STS models, as AWS answers them for
a standalone account (issue 15): table-driven, each row citing AWS's documentation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from tests.service.conftest import ACCOUNT, Call, fails

from selfiam.service.caller import Caller
from selfiam.service.operations.outbound_federation import outbound_discovery
from selfiam.service.runtime import Runtime

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
NO_ORG = "The request was rejected because no organization is associated with your account."

#: (operation, service, params, code, message). The code is the one of the operation's
#: error shape in botocore's model; sources: the IAM and STS API references.
ERRORS: list[tuple[str, str, dict[str, Any], str, str | None]] = [
    # API_ListOrganizationsFeatures.html (and the Enable/Disable pages): "no organization is
    # associated with your account" -> OrganizationNotFoundException
    ("ListOrganizationsFeatures", "iam", {}, "OrganizationNotFoundException", NO_ORG),
    (
        "EnableOrganizationsRootCredentialsManagement",
        "iam",
        {},
        "OrganizationNotFoundException",
        NO_ORG,
    ),
    (
        "DisableOrganizationsRootCredentialsManagement",
        "iam",
        {},
        "OrganizationNotFoundException",
        NO_ORG,
    ),
    ("EnableOrganizationsRootSessions", "iam", {}, "OrganizationNotFoundException", NO_ORG),
    ("DisableOrganizationsRootSessions", "iam", {}, "OrganizationNotFoundException", NO_ORG),
    # API_GenerateOrganizationsAccessReport.html: only an organization's management account
    (
        "GenerateOrganizationsAccessReport",
        "iam",
        {"EntityPath": "o-a1b2c3d4e5"},
        "OrganizationNotFoundException",
        NO_ORG,
    ),
    ("GetOrganizationsAccessReport", "iam", {"JobId": "x" * 36}, "NoSuchEntity", None),
    # API_GetDelegationRequest.html & co: NoSuchEntity for a request that does not exist
    ("GetDelegationRequest", "iam", {"DelegationRequestId": "d-1"}, "NoSuchEntity", None),
    ("AcceptDelegationRequest", "iam", {"DelegationRequestId": "d-1"}, "NoSuchEntity", None),
    ("RejectDelegationRequest", "iam", {"DelegationRequestId": "d-1"}, "NoSuchEntity", None),
    ("AssociateDelegationRequest", "iam", {"DelegationRequestId": "d-1"}, "NoSuchEntity", None),
    ("UpdateDelegationRequest", "iam", {"DelegationRequestId": "d-1"}, "NoSuchEntity", None),
    ("SendDelegationToken", "iam", {"DelegationRequestId": "d-1"}, "NoSuchEntity", None),
    (
        "CreateDelegationRequest",
        "iam",
        {
            "Description": "d",
            "Permissions": {},
            "RequestorWorkflowId": "w",
            "NotificationChannel": "arn:aws:sns:us-east-1:123456789012:t",
            "SessionDuration": 3600,
        },
        "InvalidInput",
        None,
    ),
    # API_GetHumanReadableSummary.html: "the only supported entity type is delegation-request"
    (
        "GetHumanReadableSummary",
        "iam",
        {"EntityArn": f"arn:aws:iam::{ACCOUNT}:delegation-request/d-1"},
        "NoSuchEntity",
        None,
    ),
    ("GetHumanReadableSummary", "iam", {"EntityArn": ALICE}, "InvalidInput", None),
    # API_GetRoleTemplateVersion.html, API_AcquireRole.html: NoSuchEntity for a template
    (
        "GetRoleTemplateVersion",
        "iam",
        {"TemplateArn": "arn:aws:iam::aws:role-template/x"},
        "NoSuchEntity",
        None,
    ),
    (
        "AcquireRole",
        "iam",
        {"TemplateArn": "arn:aws:iam::aws:role-template/x"},
        "NoSuchEntity",
        None,
    ),
    # API_GetOutboundWebIdentityFederationInfo.html: FeatureDisabled until it is enabled
    ("GetOutboundWebIdentityFederationInfo", "iam", {}, "FeatureDisabled", None),
    ("DisableOutboundWebIdentityFederation", "iam", {}, "FeatureDisabled", None),
    # STS API_GetWebIdentityToken.html: OutboundWebIdentityFederationDisabledException (403)
    (
        "GetWebIdentityToken",
        "sts",
        {"Audience": ["a"], "SigningAlgorithm": "ES384"},
        "OutboundWebIdentityFederationDisabledException",
        None,
    ),
    # API_AssumeRoot.html: only from an organization's management account with root
    # sessions enabled: nothing allows it in a standalone account
    (
        "AssumeRoot",
        "sts",
        {
            "TargetPrincipal": "210987654321",
            "TaskPolicyArn": {
                "arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"
            },
        },
        "AccessDenied",
        "User: arn:aws:iam::123456789012:root is not authorized to perform: "
        "sts:AssumeRoot on resource: arn:aws:iam::210987654321:root",
    ),
    ("GetDelegatedAccessToken", "sts", {"TradeInToken": "t"}, "ExpiredTradeInTokenException", None),
    ("GetScopedCredentials", "sts", {}, "InvalidSubjectCredentials", None),
    # API_UpdateOpenIDConnectProvider.html: NoSuchEntity for an unknown provider
    (
        "UpdateOpenIDConnectProvider",
        "iam",
        {
            "OpenIDConnectProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com",
            "RemoveContextProvider": True,
        },
        "NoSuchEntity",
        None,
    ),
]


@pytest.mark.parametrize(
    ("operation", "service", "params", "code", "message"),
    ERRORS,
    ids=[f"{row[0]}-{row[3]}" for row in ERRORS],
)
def test_answers_as_aws_for_a_standalone_account(
    call: Call,
    operation: str,
    service: str,
    params: dict[str, Any],
    code: str,
    message: str | None,
) -> None:
    error = fails(code, None, call, operation, service=service, **params)
    if message is not None:
        assert error.message.startswith(message), error.message
    assert error.code != "InvalidAction"


@pytest.mark.parametrize(
    ("operation", "service", "params"),
    [(row[0], row[1], row[2]) for row in ERRORS]
    + [
        ("GetAccountProperties", "iam", {}),
        ("PutAccountProperties", "iam", {"Properties": {"RoleManager/Enabled": "true"}}),
        ("SetSecurityTokenServicePreferences", "iam", {"GlobalEndpointTokenVersion": "v2Token"}),
        ("EnableOutboundWebIdentityFederation", "iam", {}),
        ("ListDelegationRequests", "iam", {}),
    ],
)
def test_a_caller_without_permission_is_denied_first(
    call: Call,
    caller_for: Callable[[str], Caller],
    operation: str,
    service: str,
    params: dict[str, Any],
) -> None:
    call("CreateUser", UserName="alice")
    fails(
        "AccessDenied", None, call, operation, service=service, caller=caller_for("alice"), **params
    )


def test_list_delegation_requests_is_empty(call: Call) -> None:
    assert call("ListDelegationRequests") == {"DelegationRequests": [], "isTruncated": False}


def test_sts_preferences_show_in_the_account_summary(call: Call) -> None:
    # API_SetSecurityTokenServicePreferences.html: "To view the current session token
    # version, see the GlobalEndpointTokenVersion entry in the response of GetAccountSummary"
    assert call("GetAccountSummary")["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    call("SetSecurityTokenServicePreferences", GlobalEndpointTokenVersion="v2Token")
    assert call("GetAccountSummary")["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    call("SetSecurityTokenServicePreferences", GlobalEndpointTokenVersion="v1Token")
    assert call("GetAccountSummary")["SummaryMap"]["GlobalEndpointTokenVersion"] == 1


def test_account_properties(call: Call) -> None:
    # API_PutAccountProperties.html: Namespace/PropertyName keys, one namespace per request
    assert call("GetAccountProperties") == {"Properties": {}}
    call("PutAccountProperties", Properties={"RoleManager/Enabled": "true"})
    call("PutAccountProperties", Properties={"RoleManager/Enabled": "false", "RoleManager/X": "1"})
    assert call("GetAccountProperties")["Properties"] == {
        "RoleManager/Enabled": "false",
        "RoleManager/X": "1",
    }
    for bad in ({"NoSlash": "x"}, {"/Lead": "x"}, {"A/B/C": "x"}, {"A/x": "1", "B/y": "2"}):
        fails("InvalidInput", None, call, "PutAccountProperties", Properties=bad)


def test_outbound_federation_switch(call: Call) -> None:
    issuer = call("EnableOutboundWebIdentityFederation")["IssuerIdentifier"]
    assert issuer.startswith("https://")
    fails("FeatureEnabled", None, call, "EnableOutboundWebIdentityFederation")
    info = call("GetOutboundWebIdentityFederationInfo")
    assert info == {"IssuerIdentifier": issuer, "JwtVendingEnabled": True}
    call("DisableOutboundWebIdentityFederation")
    fails("FeatureDisabled", None, call, "GetOutboundWebIdentityFederationInfo")
    # enabled again, the issuer is the same one
    assert call("EnableOutboundWebIdentityFederation")["IssuerIdentifier"] == issuer


def test_update_oidc_provider_without_identity_center(call: Call) -> None:
    arn = call(
        "CreateOpenIDConnectProvider",
        Url="https://token.example.com",
        ClientIDList=["app"],
        ThumbprintList=["a" * 40],
    )["OpenIDConnectProviderArn"]
    assert (
        call(
            "UpdateOpenIDConnectProvider",
            OpenIDConnectProviderArn=arn,
            RemoveIdentityCenterInstance=True,
        )
        == {}
    )
    fails(
        "InvalidInput",
        None,
        call,
        "UpdateOpenIDConnectProvider",
        OpenIDConnectProviderArn=arn,
        IdentityCenterInstanceArn="arn:aws:sso:::instance/ssoins-1234567890abcdef",
    )


def test_web_identity_tokens_verify_with_the_published_keys(
    call: Call, runtime: Runtime, caller_for: Callable[[str], Caller]
) -> None:
    # API_GetWebIdentityToken.html: a JWT signed by STS, verifiable with the keys published
    # at the issuer's JWKS endpoint; aud from Audience, sub the caller's ARN, exp after
    # DurationSeconds (default 300)
    runtime.public_url = "https://iam.example.com"
    issuer = call("EnableOutboundWebIdentityFederation")["IssuerIdentifier"]
    assert issuer.startswith("https://iam.example.com/outbound/")
    call("CreateUser", UserName="alice")
    call(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="tokens",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:GetWebIdentityToken",
                        "Resource": "*",
                        "Condition": {
                            "ForAllValues:StringEquals": {
                                "sts:IdentityTokenAudience": ["https://api.example.com"]
                            }
                        },
                    }
                ],
            }
        ),
    )
    alice = caller_for("alice")
    found = outbound_discovery(runtime, issuer.rsplit("/", 1)[1])
    assert found is not None
    configuration, jwks = found
    assert configuration["issuer"] == issuer
    assert configuration["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    for algorithm in ("ES384", "RS256"):
        answer = call(
            "GetWebIdentityToken",
            service="sts",
            caller=alice,
            Audience=["https://api.example.com"],
            SigningAlgorithm=algorithm,
            DurationSeconds=600,
            Scope="read write",
            Tags=[{"Key": "team", "Value": "blue"}],
        )
        token = jwt.decode(
            answer["WebIdentityToken"], KeySet.import_key_set(jwks), algorithms=[algorithm]
        )
        claims = token.claims
        assert token.header["alg"] == algorithm
        assert claims["iss"] == issuer
        assert claims["sub"] == ALICE
        assert claims["aud"] == "https://api.example.com"
        assert claims["exp"] - claims["iat"] == 600
        assert claims["scope"] == "read write"
        assert claims["https://sts.amazonaws.com/"]["request_tags"] == {"team": "blue"}
        assert answer["Expiration"] == runtime.clock() + timedelta(seconds=600)
    # the policy's sts:IdentityTokenAudience condition refuses another audience
    fails(
        "AccessDenied",
        None,
        call,
        "GetWebIdentityToken",
        service="sts",
        caller=alice,
        Audience=["https://other.example.com"],
        SigningAlgorithm="ES384",
    )
    call("DisableOutboundWebIdentityFederation")
    fails(
        "OutboundWebIdentityFederationDisabledException",
        None,
        call,
        "GetWebIdentityToken",
        service="sts",
        Audience=["a"],
        SigningAlgorithm="ES384",
    )
    assert outbound_discovery(runtime, issuer.rsplit("/", 1)[1]) is None
