"""The rest of IAM/STS for roles over HTTP with boto3, on SQLite and on PostgreSQL:
instance profiles, service-linked roles, trust by unique id, GetFederationToken,
GetAccessKeyInfo and DecodeAuthorizationMessage (issue 11, API part)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from support.server import LiveServer

pytestmark = pytest.mark.slow

INVALID = "The security token included in the request is invalid."


def _error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def _doc(document: Any) -> Any:
    return json.loads(unquote(document)) if isinstance(document, str) else document


def _trust(principal: Any) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
    )


def _allow(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def test_instance_profiles(server: LiveServer) -> None:
    iam = server.client()
    iam.create_role(
        RoleName="ec2-app", AssumeRolePolicyDocument=_trust({"Service": "ec2.amazonaws.com"})
    )
    profile = iam.create_instance_profile(
        InstanceProfileName="app", Path="/web/", Tags=[{"Key": "env", "Value": "prod"}]
    )["InstanceProfile"]
    assert profile["InstanceProfileId"].startswith("AIPA")
    assert profile["Arn"] == f"arn:aws:iam::{server.account_id}:instance-profile/web/app"
    iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="ec2-app")
    with pytest.raises(ClientError) as err:
        iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="ec2-app")
    assert _error(err) == (
        "LimitExceeded",
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
    )
    got = iam.get_instance_profile(InstanceProfileName="app")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["ec2-app"]
    assert got["Tags"] == [{"Key": "env", "Value": "prod"}]
    listed = iam.list_instance_profiles_for_role(RoleName="ec2-app")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in listed] == ["app"]
    paginator = iam.get_paginator("list_instance_profiles")
    names = [
        p["InstanceProfileName"]
        for page in paginator.paginate(PaginationConfig={"PageSize": 1})
        for p in page["InstanceProfiles"]
    ]
    assert "app" in names
    with pytest.raises(ClientError) as err:
        iam.delete_role(RoleName="ec2-app")
    assert _error(err) == (
        "DeleteConflict",
        "Cannot delete entity, must remove roles from instance profile first.",
    )
    with pytest.raises(ClientError) as err:
        iam.delete_instance_profile(InstanceProfileName="app")
    assert _error(err)[0] == "DeleteConflict"
    details = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    (ec2_app,) = [r for r in details if r["RoleName"] == "ec2-app"]
    assert [p["InstanceProfileName"] for p in ec2_app["InstanceProfileList"]] == ["app"]
    assert iam.get_account_summary()["SummaryMap"]["InstanceProfiles"] >= 1
    iam.untag_instance_profile(InstanceProfileName="app", TagKeys=["env"])
    assert iam.list_instance_profile_tags(InstanceProfileName="app")["Tags"] == []
    iam.remove_role_from_instance_profile(InstanceProfileName="app", RoleName="ec2-app")
    iam.delete_instance_profile(InstanceProfileName="app")
    iam.delete_role(RoleName="ec2-app")
    with pytest.raises(ClientError) as err:
        iam.get_instance_profile(InstanceProfileName="app")
    assert _error(err) == ("NoSuchEntity", "Instance Profile app cannot be found.")


def test_service_linked_roles(server: LiveServer) -> None:
    iam = server.client()
    role = iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForElasticBeanstalk"
    assert role["Path"] == "/aws-service-role/elasticbeanstalk.amazonaws.com/"
    with pytest.raises(ClientError) as err:
        iam.delete_role(RoleName=role["RoleName"])
    assert _error(err) == (
        "UnmodifiableEntity",
        "Cannot perform the operation on the protected role "
        "'AWSServiceRoleForElasticBeanstalk' - this role is only modifiable by AWS",
    )
    task = iam.delete_service_linked_role(RoleName=role["RoleName"])["DeletionTaskId"]
    assert task.startswith(
        "task/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk/"
    )
    status = iam.get_service_linked_role_deletion_status(DeletionTaskId=task)
    assert status["Status"] == "SUCCEEDED"


def test_a_recreated_user_is_not_trusted(server: LiveServer) -> None:
    iam = server.client()
    user = iam.create_user(UserName="temp-user")["User"]
    iam.create_role(RoleName="trusts-temp", AssumeRolePolicyDocument=_trust({"AWS": user["Arn"]}))
    iam.delete_user(UserName="temp-user")
    iam.create_user(UserName="temp-user")
    key = iam.create_access_key(UserName="temp-user")["AccessKey"]
    shown = iam.get_role(RoleName="trusts-temp")["Role"]["AssumeRolePolicyDocument"]
    assert _doc(shown)["Statement"][0]["Principal"]["AWS"] == user["UserId"]
    sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], "sts")
    role_arn = f"arn:aws:iam::{server.account_id}:role/trusts-temp"
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")
    assert _error(err)[0] == "AccessDenied"


def test_federation_token_and_key_info(server: LiveServer) -> None:
    iam = server.client()
    iam.create_user(UserName="feder")
    iam.put_user_policy(
        UserName="feder",
        PolicyName="p",
        PolicyDocument=_allow(
            "sts:GetFederationToken", "sts:GetAccessKeyInfo", "sts:DecodeAuthorizationMessage"
        ),
    )
    key = iam.create_access_key(UserName="feder")["AccessKey"]
    sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], "sts")
    out = sts.get_federation_token(Name="bob", Policy=_allow("s3:*"), DurationSeconds=900)
    arn = f"arn:aws:sts::{server.account_id}:federated-user/bob"
    assert out["FederatedUser"] == {"FederatedUserId": f"{server.account_id}:bob", "Arn": arn}
    creds = out["Credentials"]
    fed = server.client(creds["AccessKeyId"], creds["SecretAccessKey"], "sts",
                        token=creds["SessionToken"])  # fmt: skip
    assert fed.get_caller_identity()["Arn"] == arn
    fed_iam = server.client(creds["AccessKeyId"], creds["SecretAccessKey"],
                            token=creds["SessionToken"])  # fmt: skip
    with pytest.raises(ClientError) as err:
        fed_iam.list_users()
    assert _error(err) == ("InvalidClientTokenId", INVALID)
    info = sts.get_access_key_info(AccessKeyId=creds["AccessKeyId"])
    assert info["Account"] == server.account_id
    with pytest.raises(ClientError) as err:
        sts.decode_authorization_message(EncodedMessage="not-a-message")
    assert _error(err)[0] == "InvalidAuthorizationMessageException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_source_identity_and_passed_to_service(server: LiveServer) -> None:
    """Over the wire: AssumeRole with a SourceIdentity needs sts:SetSourceIdentity in the
    role's trust policy (AWS's AccessDenied naming it); AddRoleToInstanceProfile's
    iam:PassRole carries iam:PassedToService = ec2.amazonaws.com."""
    iam = server.client()
    user = iam.create_user(UserName="si-user")["User"]
    key = iam.create_access_key(UserName="si-user")["AccessKey"]
    iam.create_role(RoleName="si-role", AssumeRolePolicyDocument=_trust({"AWS": user["Arn"]}))
    role_arn = f"arn:aws:iam::{server.account_id}:role/si-role"
    sts = server.client(key["AccessKeyId"], key["SecretAccessKey"], "sts")
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", SourceIdentity="alice")
    assert _error(err) == (
        "AccessDenied",
        f"User: {user['Arn']} is not authorized to perform: sts:SetSourceIdentity on "
        f"resource: {role_arn}",
    )
    trust = json.loads(_trust({"AWS": user["Arn"]}))
    trust["Statement"][0]["Action"] = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    iam.update_assume_role_policy(RoleName="si-role", PolicyDocument=json.dumps(trust))
    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", SourceIdentity="alice")
    assert out["SourceIdentity"] == "alice"

    iam.create_instance_profile(InstanceProfileName="si-profile")
    statements = [
        {"Effect": "Allow", "Action": "iam:AddRoleToInstanceProfile", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        },
    ]
    policy = {"Version": "2012-10-17", "Statement": statements}
    iam.put_user_policy(UserName="si-user", PolicyName="pass", PolicyDocument=json.dumps(policy))
    user_iam = server.client(key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as err:
        user_iam.add_role_to_instance_profile(InstanceProfileName="si-profile", RoleName="si-role")
    assert _error(err)[0] == "AccessDenied"
    assert "iam:PassRole" in _error(err)[1]
    statements[1]["Condition"] = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    iam.put_user_policy(UserName="si-user", PolicyName="pass", PolicyDocument=json.dumps(policy))
    user_iam.add_role_to_instance_profile(InstanceProfileName="si-profile", RoleName="si-role")
