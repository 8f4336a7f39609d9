"""AssumeRoleWithSAML over HTTP: boto3 sends it unsigned, as to AWS, to a live server (SQLite
and PostgreSQL); a second server process on the same database refuses a replay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.saml_idp import SamlIdp, aws_attributes
from support.server import LiveServer, another_node

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> SamlIdp:
    return SamlIdp(tmp_path_factory.mktemp("idp"))


@pytest.fixture(scope="module")
def setup(server: LiveServer, idp: SamlIdp) -> dict[str, str]:
    iam = server.client()
    provider = iam.create_saml_provider(Name="corp", SAMLMetadataDocument=idp.metadata)
    provider_arn = provider["SAMLProviderArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {"StringEquals": {"saml:aud": "https://signin.aws.amazon.com/saml"}},
            }
        ],
    }
    role = iam.create_role(RoleName="engineers", AssumeRolePolicyDocument=json.dumps(trust))
    return {"provider": provider_arn, "role": role["Role"]["Arn"]}


def _assume(server: LiveServer, setup: dict[str, str], assertion: str) -> dict[str, Any]:
    sts = server.client(service="sts")
    answer: dict[str, Any] = sts.assume_role_with_saml(
        RoleArn=setup["role"], PrincipalArn=setup["provider"], SAMLAssertion=assertion
    )
    return answer


def test_provider_parses_in_boto3(server: LiveServer, setup: dict[str, str], idp: SamlIdp) -> None:
    iam = server.client()
    got = iam.get_saml_provider(SAMLProviderArn=setup["provider"])
    assert got["SAMLMetadataDocument"] == idp.metadata
    listed = iam.list_saml_providers()["SAMLProviderList"]
    assert [p["Arn"] for p in listed] == [setup["provider"]]


def test_unsigned_assume_role_with_saml_gives_a_session(
    server: LiveServer, setup: dict[str, str], idp: SamlIdp
) -> None:
    answer = _assume(server, setup, idp.response(aws_attributes(setup["role"], setup["provider"])))
    assert answer["Subject"] == "alice@example.test"
    assert answer["SubjectType"] == "persistent"
    creds = answer["Credentials"]
    sts = server.client(
        creds["AccessKeyId"], creds["SecretAccessKey"], service="sts", token=creds["SessionToken"]
    )
    assert sts.get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{server.account_id}:assumed-role/engineers/alice"
    )


def test_forged_response_gets_invalid_identity_token(
    server: LiveServer, setup: dict[str, str], tmp_path: Path
) -> None:
    forger = SamlIdp(tmp_path / "forger", name="forger")
    with pytest.raises(ClientError) as err:
        _assume(server, setup, forger.response(aws_attributes(setup["role"], setup["provider"])))
    error = err.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidIdentityToken",
        "Response signature invalid",
    )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_replay_through_another_process_is_refused(
    server: LiveServer, setup: dict[str, str], idp: SamlIdp
) -> None:
    assertion = idp.response(aws_attributes(setup["role"], setup["provider"]))
    _assume(server, setup, assertion)
    with another_node(server) as node_b, pytest.raises(ClientError) as err:
        _assume(node_b, setup, assertion)
    assert err.value.response["Error"]["Code"] == "InvalidIdentityToken"
