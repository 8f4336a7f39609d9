"""Query protocol requests: botocore serializes, selfiam parses back the same input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import botocore.session
import pytest
from botocore.serialize import create_serializer
from botocore.utils import ArgumentGenerator, percent_encode_sequence

from selfiam.api.query import decode_request, parse_request
from selfiam.domain.errors import InvalidAction, MissingAction, ValidationError

_SESSION = botocore.session.get_session()
MODELS = {name: _SESSION.get_service_model(name) for name in ("iam", "sts")}
SERIALIZER = create_serializer("query")
UNCHECKED_SERIALIZER = create_serializer("query", include_validation=False)


def wire(
    service: str, operation: str, kwargs: dict[str, Any], validate: bool = True
) -> dict[str, str]:
    """The flat form boto3 would POST for ``operation(**kwargs)``, after URL decoding."""
    model = MODELS[service].operation_model(operation)
    serializer = SERIALIZER if validate else UNCHECKED_SERIALIZER
    body = serializer.serialize_to_request(kwargs, model)["body"]
    return dict(parse_qsl(percent_encode_sequence(body), keep_blank_values=True))


def roundtrip(service: str, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    name, parsed = parse_request(service, wire(service, operation, kwargs))
    assert name == operation
    return parsed


def validation_message(service: str, params: dict[str, str]) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_request(service, params)
    assert caught.value.status == 400
    assert caught.value.code == "ValidationError"
    return caught.value.message


POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:ChangePassword", "iam:*AccessKey*"],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
                "Condition": {"StringLike": {"aws:userid": "A+B=C&D é\n"}},
            }
        ],
    },
    indent=2,
)

BOTO3_CALLS = [
    (
        "iam",
        "CreateUser",
        {
            "Path": "/engineering/",
            "UserName": "alice.smith@example.com",
            "PermissionsBoundary": "arn:aws:iam::123456789012:policy/boundary",
            "Tags": [
                {"Key": "team", "Value": "platform+ops @ 9:00"},
                {"Key": "Ünïcode key", "Value": "日本語 + spaces"},
                {"Key": "empty", "Value": ""},
            ],
        },
    ),
    ("iam", "CreateUser", {"UserName": "bob", "Tags": []}),
    ("iam", "GetUser", {"UserName": "bob"}),
    ("iam", "GetUser", {}),
    (
        "iam",
        "PutUserPolicy",
        {"UserName": "bob", "PolicyName": "self-service", "PolicyDocument": POLICY},
    ),
    ("iam", "ListUsers", {"PathPrefix": "/engineering/", "Marker": "abc/def+==", "MaxItems": 100}),
    (
        "iam",
        "CreatePolicy",
        {
            "PolicyName": "SelfService",
            "Path": "/selfiam/",
            "PolicyDocument": POLICY,
            "Description": "Lets a user manage their own credentials",
            "Tags": [{"Key": "owner", "Value": "security"}],
        },
    ),
    (
        "iam",
        "UpdateAccessKey",
        {"UserName": "bob", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Inactive"},
    ),
    (
        "iam",
        "AttachUserPolicy",
        {"UserName": "bob", "PolicyArn": "arn:aws:iam::aws:policy/IAMUserChangePassword"},
    ),
    (
        "iam",
        "SimulateCustomPolicy",
        {
            "PolicyInputList": [POLICY, POLICY],
            "ActionNames": ["iam:CreateAccessKey", "iam:DeleteAccessKey"],
            "ResourceArns": ["arn:aws:iam::123456789012:user/bob"],
            "CallerArn": "arn:aws:iam::123456789012:user/bob",
            "ContextEntries": [
                {
                    "ContextKeyName": "aws:MultiFactorAuthPresent",
                    "ContextKeyValues": ["true"],
                    "ContextKeyType": "boolean",
                },
                {
                    "ContextKeyName": "aws:SourceIp",
                    "ContextKeyValues": ["10.0.0.1", "192.168.0.0/16"],
                    "ContextKeyType": "ipList",
                },
            ],
            "MaxItems": 10,
        },
    ),
    (
        "iam",
        "UpdateAccountPasswordPolicy",
        {
            "MinimumPasswordLength": 14,
            "RequireSymbols": True,
            "RequireNumbers": False,
            "AllowUsersToChangePassword": True,
            "MaxPasswordAge": 90,
        },
    ),
    (
        "sts",
        "GetSessionToken",
        {"DurationSeconds": 3600, "SerialNumber": "arn:aws:iam::1:mfa/bob", "TokenCode": "123456"},
    ),
    (
        "sts",
        "AssumeRole",
        {
            "RoleArn": "arn:aws:iam::123456789012:role/admin",
            "RoleSessionName": "bob@laptop",
            "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
            "Tags": [{"Key": "project", "Value": "x"}],
            "TransitiveTagKeys": ["project"],
            "DurationSeconds": 900,
        },
    ),
    ("sts", "GetCallerIdentity", {}),
]


@pytest.mark.parametrize(
    ("service", "operation", "kwargs"),
    BOTO3_CALLS,
    ids=[f"{s}-{o}-{i}" for i, (s, o, _) in enumerate(BOTO3_CALLS)],
)
def test_boto3_input_roundtrips(service: str, operation: str, kwargs: dict[str, Any]) -> None:
    assert roundtrip(service, operation, kwargs) == kwargs


def _normalise(value: Any) -> Any:
    """Skeleton values as they come back: naive datetimes are UTC."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@pytest.mark.parametrize("service", ["iam", "sts"])
def test_every_operation_input_structure_roundtrips(service: str) -> None:
    """Every operation of the model, with every member filled, parses back whole."""
    generator = ArgumentGenerator(use_member_names=True)
    model = MODELS[service]
    checked = 0
    for operation in model.operation_names:
        shape = model.operation_model(operation).input_shape
        if shape is None:
            assert parse_request(service, {"Action": operation}) == (operation, {})
            continue
        kwargs = generator.generate_skeleton(shape)
        name, parsed, _errors = decode_request(
            service, wire(service, operation, kwargs, validate=False)
        )
        assert name == operation
        assert parsed == _normalise(kwargs), operation
        checked += 1
    assert checked > (100 if service == "iam" else 5)


def test_map_members_are_decoded_from_entries() -> None:
    params = {
        "Action": "PutAccountProperties",
        "Properties.entry.1.key": "alpha",
        "Properties.entry.1.value": "one",
        "Properties.entry.2.key": "beta",
        "Properties.entry.2.value": "two",
    }
    _, parsed, _ = decode_request("iam", params)
    assert parsed["Properties"] == {"alpha": "one", "beta": "two"}


def test_list_elements_follow_their_indexes() -> None:
    params = {
        "Action": "CreateUser",
        "UserName": "bob",
        "Tags.member.3.Key": "c",
        "Tags.member.3.Value": "3",
        "Tags.member.1.Key": "a",
        "Tags.member.1.Value": "1",
        "Tags.member.x.Key": "ignored",
    }
    assert parse_request("iam", params)[1]["Tags"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "c", "Value": "3"},
    ]


def test_unknown_parameters_are_ignored() -> None:
    params = {
        "Action": "GetUser",
        "Version": "2010-05-08",
        "UserName": "bob",
        "Bogus": "1",
        "UserName.extra": "2",
        "X-Amz-Date": "20240101T000000Z",
    }
    assert parse_request("iam", params) == ("GetUser", {"UserName": "bob"})


def test_version_may_be_omitted() -> None:
    assert parse_request("iam", {"Action": "GetUser"}) == ("GetUser", {})
    assert parse_request("sts", {"Action": "GetCallerIdentity"}) == ("GetCallerIdentity", {})


def test_missing_action() -> None:
    for params in ({}, {"Version": "2010-05-08"}, {"Action": ""}):
        with pytest.raises(MissingAction) as caught:
            parse_request("iam", params)
        assert caught.value.status == 400


@pytest.mark.parametrize(
    ("service", "params", "message"),
    [
        (
            "iam",
            {"Action": "Frobnicate"},
            "Could not find operation Frobnicate for version 2010-05-08",
        ),
        (
            "iam",
            {"Action": "GetUser", "Version": "2011-06-15"},
            "Could not find operation GetUser for version 2011-06-15",
        ),
        ("iam", {"Action": "getuser"}, "Could not find operation getuser for version 2010-05-08"),
        (
            "iam",
            {"Action": "GetCallerIdentity", "Version": "2010-05-08"},
            "Could not find operation GetCallerIdentity for version 2010-05-08",
        ),
        (
            "sts",
            {"Action": "GetUser", "Version": "2011-06-15"},
            "Could not find operation GetUser for version 2011-06-15",
        ),
    ],
)
def test_invalid_action(service: str, params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidAction) as caught:
        parse_request(service, params)
    assert caught.value.message == message
    assert caught.value.status == 400


def test_bad_pattern_message_is_awss() -> None:
    message = validation_message("iam", {"Action": "CreateUser", "UserName": "a b"})
    assert message == (
        "1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    )


def test_patterns_match_the_whole_value_with_javas_ascii_classes() -> None:
    ok = {"Action": "CreateUser", "UserName": "bob", "Path": "/a/b/"}
    assert parse_request("iam", ok)[1]["Path"] == "/a/b/"
    for path in ("x/a/", "/a/x", "/a/\n"):
        assert "at 'path'" in validation_message("iam", {**ok, "Path": path})
    # Java's \w is ASCII-only: IAM user names are ASCII.
    assert "at 'userName'" in validation_message("iam", {**ok, "UserName": "zoë"})
    # "^...$" patterns do not accept a trailing newline.
    alias = {"Action": "CreateAccountAlias", "AccountAlias": "my-alias"}
    assert parse_request("iam", alias)[1] == {"AccountAlias": "my-alias"}
    assert "at 'accountAlias'" in validation_message("iam", {**alias, "AccountAlias": "my-alias\n"})
    assert "at 'accountAlias'" in validation_message("iam", {**alias, "AccountAlias": "my--alias"})


def test_unicode_property_classes_in_tag_patterns() -> None:
    base = {"Action": "CreateUser", "UserName": "bob"}
    good = {**base, "Tags.member.1.Key": "Équipe 日本 ٣", "Tags.member.1.Value": "x\u00a0y"}
    assert parse_request("iam", good)[1]["Tags"] == [{"Key": "Équipe 日本 ٣", "Value": "x\u00a0y"}]
    message = validation_message(
        "iam", {**base, "Tags.member.1.Key": "a$", "Tags.member.1.Value": "fine"}
    )
    assert message == (
        "1 validation error detected: Value 'a$' at 'tags.1.member.key' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"
    )
    tab = {**base, "Tags.member.1.Key": "k", "Tags.member.1.Value": "a\tb"}
    assert "at 'tags.1.member.value'" in validation_message("iam", tab)


def test_too_long() -> None:
    message = validation_message("iam", {"Action": "CreateUser", "UserName": "a" * 65})
    assert message == (
        f"1 validation error detected: Value '{'a' * 65}' at 'userName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64"
    )


def test_missing_required_members() -> None:
    assert validation_message("iam", {"Action": "CreateUser"}) == (
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: "
        "Member must not be null"
    )
    message = validation_message(
        "iam", {"Action": "CreateUser", "UserName": "bob", "Tags.member.1.Key": "k"}
    )
    assert message == (
        "1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_bad_enum() -> None:
    params = {
        "Action": "UpdateAccessKey",
        "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "Status": "Enabled",
    }
    assert validation_message("iam", params) == (
        "1 validation error detected: Value 'Enabled' at 'status' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Active, Inactive, Expired]"
    )


def test_bad_enum_in_a_list_of_scalars() -> None:
    params = {
        "Action": "GetAccountAuthorizationDetails",
        "Filter.member.1": "User",
        "Filter.member.2": "Users",
    }
    assert validation_message("iam", params) == (
        "1 validation error detected: Value '[User, Users]' at 'filter' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]]"
    )


@pytest.mark.parametrize(
    ("value", "constraint"),
    [
        ("0", "Member must have value greater than or equal to 1"),
        ("1001", "Member must have value less than or equal to 1000"),
    ],
)
def test_out_of_range(value: str, constraint: str) -> None:
    message = validation_message("iam", {"Action": "ListUsers", "MaxItems": value})
    assert message == (
        f"1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy "
        f"constraint: {constraint}"
    )


def test_list_length() -> None:
    params: dict[str, str] = {"Action": "CreateUser", "UserName": "bob"}
    for i in range(1, 52):
        params[f"Tags.member.{i}.Key"] = f"k{i}"
        params[f"Tags.member.{i}.Value"] = "v"
    message = validation_message("iam", params)
    assert message.startswith("1 validation error detected: Value '[{Key=k1, Value=v}, ")
    assert message.endswith(
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    )


def test_multiple_errors_in_one_message() -> None:
    params = {
        "Action": "CreateUser",
        "Path": "no-slash",
        "PermissionsBoundary": "short",
        "Tags.member.1.Key": "",
        "Tags.member.1.Value": "v",
    }
    message = validation_message("iam", params)
    assert message.startswith("5 validation errors detected: ")
    parts = message.removeprefix("5 validation errors detected: ").split("; ")
    assert parts == [
        "Value 'no-slash' at 'path' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        "Value null at 'userName' failed to satisfy constraint: Member must not be null",
        "Value 'short' at 'permissionsBoundary' failed to satisfy constraint: Member must have "
        "length greater than or equal to 20",
        "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
        "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length "
        "greater than or equal to 1",
    ]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"Action": "ListUsers", "MaxItems": "ten"}, "Value 'ten' at 'maxItems'"),
        ({"Action": "ListUsers", "MaxItems": "1.5"}, "Value '1.5' at 'maxItems'"),
        ({"Action": "ListUsers", "MaxItems": str(2**31)}, f"Value '{2**31}' at 'maxItems'"),
        ({"Action": "ListUsers", "MaxItems": ""}, "Value '' at 'maxItems'"),
        (
            {"Action": "UpdateAccountPasswordPolicy", "RequireSymbols": "yes"},
            "Value 'yes' at 'requireSymbols'",
        ),
    ],
)
def test_unparseable_values_are_validation_errors(params: dict[str, str], fragment: str) -> None:
    message = validation_message("iam", params)
    assert message.startswith("1 validation error detected: " + fragment)


def test_booleans_are_case_insensitive() -> None:
    params = {"Action": "UpdateAccountPasswordPolicy", "RequireSymbols": "TRUE"}
    assert parse_request("iam", params)[1] == {"RequireSymbols": True}


def test_sensitive_values_are_never_echoed() -> None:
    secret = "correct horse battery staple " * 5
    message = validation_message(
        "iam", {"Action": "ChangePassword", "OldPassword": "old", "NewPassword": secret}
    )
    assert secret.strip() not in message
    assert message == (
        "1 validation error detected: Value at 'newPassword' failed to satisfy constraint: "
        "Member must have length less than or equal to 128"
    )


def test_parse_is_fast_enough_to_run_many_times() -> None:
    """A smoke check that the cached decoders are reused (no timing assertion)."""
    params = wire("iam", "CreateUser", BOTO3_CALLS[0][2])
    first = parse_request("iam", params)
    for _ in range(2000):
        assert parse_request("iam", params) == first
