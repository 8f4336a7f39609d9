"""IAM OpenID Connect providers: create, read, list, client ids, thumbprints, tags, delete,
and the trust-policy check of a ``Federated`` provider ARN, with AWS's errors."""

from __future__ import annotations

import json

import pytest
from tests.service.conftest import ACCOUNT, Call, fails

URL = "https://token.actions.example.com"
ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.example.com"
PRINT = "a" * 40


@pytest.fixture
def provider(call: Call) -> str:
    out = call(
        "CreateOpenIDConnectProvider",
        Url=URL,
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=[PRINT],
        Tags=[{"Key": "team", "Value": "ci"}],
    )
    assert out["Tags"] == [{"Key": "team", "Value": "ci"}]
    return str(out["OpenIDConnectProviderArn"])


def test_create_get_list(call: Call, provider: str) -> None:
    assert provider == ARN
    got = call("GetOpenIDConnectProvider", OpenIDConnectProviderArn=ARN)
    assert got["Url"] == "token.actions.example.com"
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [PRINT]
    assert got["Tags"] == [{"Key": "team", "Value": "ci"}]
    listed = call("ListOpenIDConnectProviders")["OpenIDConnectProviderList"]
    assert listed == [{"Arn": ARN}]


def test_path_and_port_are_part_of_the_name(call: Call) -> None:
    out = call("CreateOpenIDConnectProvider", Url="https://Issuer.Example.com:8443/realms/a")
    assert out["OpenIDConnectProviderArn"] == (
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/issuer.example.com:8443/realms/a"
    )


@pytest.mark.parametrize(
    "url", ["http://issuer.example.com", "issuer.example.com", "https://", "https://a?x=1"]
)
def test_only_https_urls(call: Call, url: str) -> None:
    fails(
        "ValidationError",
        "Invalid Open ID Connect Provider URL",
        call,
        "CreateOpenIDConnectProvider",
        Url=url,
    )
    assert call("ListOpenIDConnectProviders")["OpenIDConnectProviderList"] == []


def test_duplicate(call: Call, provider: str) -> None:
    fails(
        "EntityAlreadyExists",
        f"Provider with url {URL} already exists.",
        call,
        "CreateOpenIDConnectProvider",
        Url=URL,
    )


def test_thumbprints_validated(call: Call, provider: str) -> None:
    fails(
        "InvalidInput",
        "Thumbprint list must contain fewer than 5 entries.",
        call,
        "CreateOpenIDConnectProvider",
        Url="https://other.example.com",
        ThumbprintList=[f"{i:040x}" for i in range(6)],
    )
    fails(
        "ValidationError",
        None,
        call,
        "UpdateOpenIDConnectProviderThumbprint",
        OpenIDConnectProviderArn=ARN,
        ThumbprintList=["z" * 40],
    )
    call(
        "UpdateOpenIDConnectProviderThumbprint",
        OpenIDConnectProviderArn=ARN,
        ThumbprintList=["b" * 40, "c" * 40],
    )
    got = call("GetOpenIDConnectProvider", OpenIDConnectProviderArn=ARN)
    assert got["ThumbprintList"] == ["b" * 40, "c" * 40]


def test_client_ids(call: Call, provider: str) -> None:
    call("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=ARN, ClientID="app")
    call("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=ARN, ClientID="app")
    call(
        "RemoveClientIDFromOpenIDConnectProvider",
        OpenIDConnectProviderArn=ARN,
        ClientID="sts.amazonaws.com",
    )
    call("RemoveClientIDFromOpenIDConnectProvider", OpenIDConnectProviderArn=ARN, ClientID="absent")
    got = call("GetOpenIDConnectProvider", OpenIDConnectProviderArn=ARN)
    assert got["ClientIDList"] == ["app"]
    fails(
        "LimitExceeded",
        "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100",
        call,
        "CreateOpenIDConnectProvider",
        Url="https://other.example.com",
        ClientIDList=[str(i) for i in range(101)],
    )


def test_tags(call: Call, provider: str) -> None:
    call(
        "TagOpenIDConnectProvider",
        OpenIDConnectProviderArn=ARN,
        Tags=[{"Key": "env", "Value": "prod"}],
    )
    call("UntagOpenIDConnectProvider", OpenIDConnectProviderArn=ARN, TagKeys=["team"])
    tags = call("ListOpenIDConnectProviderTags", OpenIDConnectProviderArn=ARN)["Tags"]
    assert tags == [{"Key": "env", "Value": "prod"}]


def test_delete_and_missing(call: Call, provider: str) -> None:
    call("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=ARN)
    call("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=ARN)  # idempotent, as AWS
    message = f"OpenIDConnect Provider not found for arn {ARN}"
    for op, extra in [
        ("GetOpenIDConnectProvider", {}),
        ("AddClientIDToOpenIDConnectProvider", {"ClientID": "x"}),
        ("ListOpenIDConnectProviderTags", {}),
    ]:
        fails("NoSuchEntity", message, call, op, OpenIDConnectProviderArn=ARN, **extra)
    # its tags went with it: a new provider of the same URL starts without them
    call("CreateOpenIDConnectProvider", Url=URL)
    assert "Tags" not in call("GetOpenIDConnectProvider", OpenIDConnectProviderArn=ARN)


def _web_identity_trust(federated: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": federated},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                }
            ],
        }
    )


def test_trust_policy_names_an_existing_provider(call: Call, provider: str) -> None:
    call("CreateRole", RoleName="ci", AssumeRolePolicyDocument=_web_identity_trust(ARN))
    missing = f"arn:aws:iam::{ACCOUNT}:oidc-provider/nobody.example.com"
    fails(
        "MalformedPolicyDocument",
        f'Invalid principal in policy: "Federated":"{missing}"',
        call,
        "CreateRole",
        RoleName="ci2",
        AssumeRolePolicyDocument=_web_identity_trust(missing),
    )
    # a web identity provider named by its domain is not an IAM provider: not checked
    call(
        "CreateRole",
        RoleName="ci3",
        AssumeRolePolicyDocument=_web_identity_trust("accounts.google.com"),
    )
