"""Query protocol responses: selfiam serializes, botocore's own parser reads them back."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser
from botocore.utils import ArgumentGenerator

from selfiam.api.query import parse_request
from selfiam.api.xml import serialize_error, serialize_response
from selfiam.domain.errors import InternalFailure, NoSuchEntity, ValidationError

_SESSION = botocore.session.get_session()
MODELS = {name: _SESSION.get_service_model(name) for name in ("iam", "sts")}
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
REQUEST_ID = "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE"
CREATED = datetime(2024, 3, 1, 12, 30, 5, tzinfo=UTC)


def parse_back(service: str, operation: str, body: bytes) -> dict[str, Any]:
    """What boto3 returns for this body (ResponseMetadata checked and removed)."""
    shape = MODELS[service].operation_model(operation).output_shape
    parser = create_parser("query")
    parsed = parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == REQUEST_ID
    return parsed


def roundtrip(service: str, operation: str, output: dict[str, Any]) -> dict[str, Any]:
    return parse_back(
        service, operation, serialize_response(service, operation, output, REQUEST_ID)
    )


def user(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": "AIDA" + name.upper().ljust(17, "X"),
        "Arn": f"arn:aws:iam::123456789012:user/{name}",
        "CreateDate": CREATED,
        **extra,
    }


def test_get_user_exact_body() -> None:
    body = serialize_response("iam", "GetUser", {"User": user("bob")}, REQUEST_ID)
    assert (
        body
        == (
            f'<GetUserResponse xmlns="{IAM_NS}"><GetUserResult><User><Path>/</Path>'
            "<UserName>bob</UserName><UserId>AIDABOBXXXXXXXXXXXXXX</UserId>"
            "<Arn>arn:aws:iam::123456789012:user/bob</Arn><CreateDate>2024-03-01T12:30:05Z</CreateDate>"
            "</User></GetUserResult><ResponseMetadata>"
            f"<RequestId>{REQUEST_ID}</RequestId></ResponseMetadata></GetUserResponse>"
        ).encode()
    )


def test_operation_without_output_has_only_metadata() -> None:
    body = serialize_response("iam", "DeleteUser", {}, REQUEST_ID)
    assert (
        body
        == (
            f'<DeleteUserResponse xmlns="{IAM_NS}"><ResponseMetadata>'
            f"<RequestId>{REQUEST_ID}</RequestId></ResponseMetadata></DeleteUserResponse>"
        ).encode()
    )
    assert parse_back("iam", "DeleteUser", body) == {}


def test_create_user_with_tags() -> None:
    output = {
        "User": user(
            "alice",
            PermissionsBoundary={
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/b",
            },
            Tags=[{"Key": "team", "Value": "a & b <c>"}, {"Key": "empty", "Value": "x"}],
        )
    }
    assert roundtrip("iam", "CreateUser", output) == output


def test_list_users_paginated() -> None:
    output = {
        "Users": [user(f"user{i}") for i in range(3)],
        "IsTruncated": True,
        "Marker": "bWFya2VyOjM=",
    }
    assert roundtrip("iam", "ListUsers", output) == output
    last = {"Users": [user("z")], "IsTruncated": False}
    assert roundtrip("iam", "ListUsers", last) == last


def test_empty_lists_come_back_as_empty_lists() -> None:
    body = serialize_response("iam", "ListUsers", {"Users": [], "IsTruncated": False}, REQUEST_ID)
    assert b"<Users/>" in body
    assert parse_back("iam", "ListUsers", body) == {"Users": [], "IsTruncated": False}


def test_absent_and_none_members_are_omitted() -> None:
    output = {"User": user("bob", PasswordLastUsed=None, Unknown="ignored")}
    body = serialize_response("iam", "GetUser", output, REQUEST_ID)
    assert b"PasswordLastUsed" not in body and b"Unknown" not in body
    assert parse_back("iam", "GetUser", body) == {"User": user("bob")}


def test_get_account_summary_map() -> None:
    output = {"SummaryMap": {"Users": 12, "UsersQuota": 5000, "AccountMFAEnabled": 1}}
    body = serialize_response("iam", "GetAccountSummary", output, REQUEST_ID)
    assert b"<SummaryMap><entry><key>Users</key><value>12</value></entry>" in body
    assert parse_back("iam", "GetAccountSummary", body) == output


def test_get_account_authorization_details_nested_lists() -> None:
    policy_doc = "%7B%22Version%22%3A%222012-10-17%22%7D"
    output = {
        "UserDetailList": [
            user(
                "bob",
                UserPolicyList=[{"PolicyName": "inline", "PolicyDocument": policy_doc}],
                GroupList=["devs", "ops"],
                AttachedManagedPolicies=[
                    {"PolicyName": "ReadOnly", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnly"}
                ],
                Tags=[],
            )
        ],
        "GroupDetailList": [
            {
                "Path": "/",
                "GroupName": "devs",
                "GroupId": "AGPAEXAMPLE0000000000",
                "Arn": "arn:aws:iam::123456789012:group/devs",
                "CreateDate": CREATED,
                "GroupPolicyList": [],
                "AttachedManagedPolicies": [],
            }
        ],
        "RoleDetailList": [],
        "Policies": [
            {
                "PolicyName": "SelfService",
                "PolicyId": "ANPAEXAMPLE0000000000",
                "Arn": "arn:aws:iam::123456789012:policy/SelfService",
                "Path": "/",
                "DefaultVersionId": "v2",
                "AttachmentCount": 1,
                "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": True,
                "CreateDate": CREATED,
                "UpdateDate": CREATED + timedelta(days=1),
                "PolicyVersionList": [
                    {
                        "Document": policy_doc,
                        "VersionId": "v1",
                        "IsDefaultVersion": False,
                        "CreateDate": CREATED,
                    },
                    {
                        "Document": policy_doc,
                        "VersionId": "v2",
                        "IsDefaultVersion": True,
                        "CreateDate": CREATED,
                    },
                ],
            }
        ],
        "IsTruncated": False,
    }
    assert roundtrip("iam", "GetAccountAuthorizationDetails", output) == output


def test_create_access_key() -> None:
    output = {
        "AccessKey": {
            "UserName": "bob",
            "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "Status": "Active",
            "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "CreateDate": CREATED,
        }
    }
    assert roundtrip("iam", "CreateAccessKey", output) == output


def test_sts_get_caller_identity() -> None:
    output = {
        "UserId": "AIDAEXAMPLE0000000000",
        "Account": "123456789012",
        "Arn": "arn:aws:iam::123456789012:user/bob",
    }
    body = serialize_response("sts", "GetCallerIdentity", output, REQUEST_ID)
    assert body.startswith(
        f'<GetCallerIdentityResponse xmlns="{STS_NS}"><GetCallerIdentityResult>'.encode()
    )
    assert parse_back("sts", "GetCallerIdentity", body) == output


def test_sts_credentials_keep_milliseconds() -> None:
    expiration = datetime(2024, 3, 1, 13, 30, 5, 359_000, tzinfo=UTC)
    output = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE000000000",
            "SecretAccessKey": "secret",
            "SessionToken": "token+/=",
            "Expiration": expiration,
        }
    }
    body = serialize_response("sts", "GetSessionToken", output, REQUEST_ID)
    assert b"<Expiration>2024-03-01T13:30:05.359Z</Expiration>" in body
    assert roundtrip("sts", "GetSessionToken", output) == output


def test_timestamps_are_utc_with_z() -> None:
    from datetime import timezone

    paris = timezone(timedelta(hours=1))
    output = {"User": user("bob", CreateDate=datetime(2024, 3, 1, 13, 30, 5, tzinfo=paris))}
    body = serialize_response("iam", "GetUser", output, REQUEST_ID)
    assert b"<CreateDate>2024-03-01T12:30:05Z</CreateDate>" in body
    naive = {"User": user("bob", CreateDate=datetime(2024, 3, 1, 12, 30, 5))}
    assert serialize_response("iam", "GetUser", naive, REQUEST_ID) == body


def test_blobs_are_base64() -> None:
    png = bytes(range(256))
    output = {
        "VirtualMFADevice": {
            "SerialNumber": "arn:aws:iam::123456789012:mfa/bob",
            "Base32StringSeed": b"JBSWY3DPEHPK3PXP",
            "QRCodePNG": png,
        }
    }
    body = serialize_response("iam", "CreateVirtualMFADevice", output, REQUEST_ID)
    assert b"<Base32StringSeed>SkJTV1kzRFBFSFBLM1BYUA==</Base32StringSeed>" in body
    assert roundtrip("iam", "CreateVirtualMFADevice", output) == output


def test_text_is_escaped_and_survives() -> None:
    tricky = "a&b<c>d\"e'f]]>g\r\nh\tü€😀"
    output = {"User": user("bob", Tags=[{"Key": "k", "Value": tricky}])}
    assert roundtrip("iam", "GetUser", output) == output
    # Characters XML cannot carry at all are replaced, never emitted raw.
    bad = {"User": user("bob", Tags=[{"Key": "k", "Value": "a\x00b\x1bc"}])}
    assert roundtrip("iam", "GetUser", bad)["User"]["Tags"] == [
        {"Key": "k", "Value": "a\ufffdb\ufffdc"}
    ]


def _normalise(value: Any) -> Any:
    """Skeleton values as botocore reads them back: naive datetimes are UTC, None is absent."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@pytest.mark.parametrize("service", ["iam", "sts"])
def test_every_operation_output_roundtrips(service: str) -> None:
    """Every output shape of the model, with every member filled, reads back whole in botocore."""
    generator = ArgumentGenerator(use_member_names=True)
    model = MODELS[service]
    for operation in model.operation_names:
        shape = model.operation_model(operation).output_shape
        output = generator.generate_skeleton(shape) if shape is not None else {}
        assert roundtrip(service, operation, output) == _normalise(output), operation


def test_error_body_exact_and_parsed_by_botocore() -> None:
    error = NoSuchEntity("The user with name bob cannot be found.")
    body = serialize_error(error, REQUEST_ID)
    assert (
        body
        == (
            f'<ErrorResponse xmlns="{IAM_NS}"><Error><Type>Sender</Type><Code>NoSuchEntity</Code>'
            "<Message>The user with name bob cannot be found.</Message></Error>"
            f"<RequestId>{REQUEST_ID}</RequestId></ErrorResponse>"
        ).encode()
    )
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 404}, None)
    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "The user with name bob cannot be found.",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_error_body_receiver_fault_and_sts_namespace() -> None:
    body = serialize_error(InternalFailure("An internal error occurred."), REQUEST_ID, "sts")
    assert body.startswith(f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Receiver</Type>'.encode())
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 500}, None)
    assert parsed["Error"]["Code"] == "InternalFailure"


def test_error_message_is_escaped() -> None:
    message = "1 validation error detected: Value 'a<b&c' at 'userName' failed"
    body = serialize_error(ValidationError(message), REQUEST_ID)
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 400}, None)
    assert parsed["Error"]["Message"] == message


def test_unknown_operation_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        serialize_response("iam", "GetCallerIdentity", {}, REQUEST_ID)


def test_benchmark_sanity_parse_and_serialize() -> None:
    """Runs the hot paths many times and reports the cost; no timing assertion."""
    get_user = {"Action": "GetUser", "Version": "2010-05-08", "UserName": "bob"}
    list_users = {"Action": "ListUsers", "Version": "2010-05-08", "MaxItems": "100"}
    one = {"User": user("bob", Tags=[{"Key": "team", "Value": "platform"}])}
    hundred = {"Users": [user(f"user{i:03d}") for i in range(100)], "IsTruncated": False}
    rounds = 500
    results: dict[str, float] = {}
    for label, params, operation, output in (
        ("GetUser", get_user, "GetUser", one),
        ("ListUsers(100)", list_users, "ListUsers", hundred),
    ):
        start = time.perf_counter()
        for _ in range(rounds):
            name, _kwargs = parse_request("iam", params)
            body = serialize_response("iam", name, output, REQUEST_ID)
        results[label] = (time.perf_counter() - start) / rounds * 1e6
        assert parse_back("iam", operation, body) == output
    print(" ".join(f"{label}: {micros:.1f} us/request" for label, micros in results.items()))
