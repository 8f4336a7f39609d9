"""AWS's managed policies through a live server: boto3 and the aws CLI, as against AWS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from selfiam.catalog.managed_policies import load_dataset
from support.server import LiveServer

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _error(call: object, **params: object) -> dict[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)  # type: ignore[operator]
    return dict(err.value.response["Error"])


def test_every_aws_policy_is_listed_and_readable(server: LiveServer) -> None:
    iam = server.client()
    dataset = {p.arn: p for p in load_dataset()}
    listed = [
        policy
        for page in iam.get_paginator("list_policies").paginate(Scope="AWS")
        for policy in page["Policies"]
    ]
    assert sorted(p["Arn"] for p in listed) == sorted(dataset)
    for arn in (
        READ_ONLY,
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    ):
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
        expected = dataset[arn]
        assert (policy["PolicyId"], policy["Path"], policy["DefaultVersionId"]) == (
            expected.policy_id,
            expected.path,
            expected.default_version_id,
        )
        assert policy["UpdateDate"] == expected.update_date
        version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
        assert version["PolicyVersion"]["Document"] == json.loads(expected.document)
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        assert [v["VersionId"] for v in versions] == [expected.default_version_id]


def test_read_only_access_attached_is_enforced(server: LiveServer) -> None:
    iam = server.client()
    iam.create_user(UserName="reader")
    iam.attach_user_policy(UserName="reader", PolicyArn=READ_ONLY)
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = server.client(key["AccessKeyId"], key["SecretAccessKey"])
    assert reader.get_user(UserName="reader")["User"]["UserName"] == "reader"
    assert "reader" in {u["UserName"] for u in reader.list_users()["Users"]}
    assert reader.get_policy(PolicyArn=READ_ONLY)["Policy"]["AttachmentCount"] == 1
    refused = _error(reader.create_user, UserName="mallory")
    assert refused["Code"] == "AccessDenied"
    assert "is not authorized to perform: iam:CreateUser" in refused["Message"]
    attached = [
        p["PolicyName"]
        for page in iam.get_paginator("list_policies").paginate(OnlyAttached=True, Scope="AWS")
        for p in page["Policies"]
    ]
    assert "ReadOnlyAccess" in attached
    iam.detach_user_policy(UserName="reader", PolicyArn=READ_ONLY)
    assert iam.get_policy(PolicyArn=READ_ONLY)["Policy"]["AttachmentCount"] == 0
    # Detached: the very next request is refused.
    assert _error(reader.list_users)["Code"] == "AccessDenied"


def test_aws_policies_are_aws_s_to_change(server: LiveServer) -> None:
    iam = server.client()
    for call, params in (
        (iam.delete_policy, {}),
        (
            iam.create_policy_version,
            {
                "PolicyDocument": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
                    }
                )
            },
        ),
        (iam.delete_policy_version, {"VersionId": "v1"}),
        (iam.set_default_policy_version, {"VersionId": "v1"}),
    ):
        assert _error(call, PolicyArn=READ_ONLY, **params)["Code"] == "AccessDenied"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust))
    linked = "arn:aws:iam::aws:policy/aws-service-role/AmazonGuardDutyServiceRolePolicy"
    error = _error(iam.attach_role_policy, RoleName="app", PolicyArn=linked)
    assert error == {
        "Code": "PolicyNotAttachable",
        "Message": "Cannot attach a Service Role Policy to a Customer Role.",
        "Type": "Sender",
    }


def test_aws_cli_lists_aws_policies(sqlite_server: LiveServer) -> None:
    done = subprocess.run(
        [
            AWS,
            "iam",
            "list-policies",
            "--scope",
            "AWS",
            "--endpoint-url",
            sqlite_server.endpoint,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=sqlite_server.cli_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    policies = json.loads(done.stdout)["Policies"]  # the CLI follows every Marker itself
    assert len(policies) == len(load_dataset())
    assert {"ReadOnlyAccess", "AdministratorAccess", "ViewOnlyAccess"} <= {
        p["PolicyName"] for p in policies
    }
