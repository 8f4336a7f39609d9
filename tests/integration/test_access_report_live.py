"""Service last accessed against a live server, on SQLite and PostgreSQL: boto3, the aws CLI
and ``selfiam access-report`` read the same report (issue 15).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import KeySet

from support.server import LiveServer

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))
READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


def _report(iam: Any, arn: str) -> dict[str, Any]:
    """The report once dora's request is in the trail: the server writes the records of
    reads in batches after answering them, so a report may first come without it."""
    for _ in range(100):
        job = iam.generate_service_last_accessed_details(Arn=arn)["JobId"]
        report: dict[str, Any] = iam.get_service_last_accessed_details(JobId=job)
        iam_item = [s for s in report["ServicesLastAccessed"] if s["ServiceNamespace"] == "iam"]
        if iam_item and "LastAuthenticated" in iam_item[0]:
            return report | {"JobId": job}
        time.sleep(0.05)
    raise AssertionError("dora's request never reached the report")


def test_report_through_boto3_the_aws_cli_and_the_selfiam_cli(server: LiveServer) -> None:
    iam = server.client()
    iam.create_user(UserName="dora")
    iam.attach_user_policy(UserName="dora", PolicyArn=READ_ONLY)
    key = iam.create_access_key(UserName="dora")["AccessKey"]
    dora = server.client(key["AccessKeyId"], key["SecretAccessKey"])
    dora.list_users()
    arn = iam.get_user(UserName="dora")["User"]["Arn"]

    report = _report(iam, arn)
    assert report["JobStatus"] == "COMPLETED"
    services = {s["ServiceNamespace"]: s for s in report["ServicesLastAccessed"]}
    assert set(services) == {"iam"}  # IAMReadOnlyAccess grants IAM only
    assert services["iam"]["LastAuthenticatedEntity"] == arn
    entities = iam.get_service_last_accessed_details_with_entities(
        JobId=report["JobId"], ServiceNamespace="iam"
    )["EntityDetailsList"]
    assert [e["EntityInfo"]["Name"] for e in entities] == ["dora"]
    granting = iam.list_policies_granting_service_access(Arn=arn, ServiceNamespaces=["iam"])
    assert granting["PoliciesGrantingServiceAccess"][0]["Policies"][0]["PolicyArn"] == READ_ONLY

    with pytest.raises(ClientError) as refused:
        dora.generate_service_last_accessed_details(Arn=arn + "x")
    assert refused.value.response["Error"]["Code"] == "NoSuchEntity"

    env = server.cli_env()
    got = subprocess.run(
        [
            AWS,
            "iam",
            "get-service-last-accessed-details",
            "--job-id",
            report["JobId"],
            "--endpoint-url",
            server.endpoint,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["ServicesLastAccessed"][0]["LastAuthenticatedEntity"] == arn

    cli = server.selfiam("access-report", "dora", "--actions")
    assert cli.returncode == 0, cli.stderr
    assert f"{arn}: 1 services allowed, 0 never used" in cli.stdout
    assert "ListUsers" in cli.stdout and "GetUser " in cli.stdout


def test_every_new_operation_answers_through_boto3(server: LiveServer) -> None:
    iam, sts = server.client(), server.client(service="sts")
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    iam.put_account_properties(Properties={"RoleManager/Enabled": "true"})
    assert iam.get_account_properties()["Properties"] == {"RoleManager/Enabled": "true"}
    for call, code in [
        (iam.list_organizations_features, "OrganizationNotFoundException"),
        (iam.get_outbound_web_identity_federation_info, "FeatureDisabled"),
        (
            lambda: sts.get_web_identity_token(Audience=["x"], SigningAlgorithm="ES384"),
            "OutboundWebIdentityFederationDisabledException",
        ),
    ]:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == code

    # outbound web identity federation: a token boto3 gets verifies with the JWKS the server
    # publishes under the issuer's path
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    issuer_id = issuer.rsplit("/", 1)[1]
    token = sts.get_web_identity_token(
        Audience=["https://api.example.com"], SigningAlgorithm="RS256"
    )
    url = f"{server.endpoint}/outbound/{issuer_id}/.well-known/jwks.json"
    with urllib.request.urlopen(url, timeout=30) as response:
        jwks = json.load(response)
    claims = jwt.decode(
        token["WebIdentityToken"], KeySet.import_key_set(jwks), algorithms=["RS256"]
    ).claims
    assert claims["iss"] == issuer and claims["aud"] == "https://api.example.com"
    assert claims["sub"] == sts.get_caller_identity()["Arn"]
