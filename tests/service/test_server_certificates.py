"""Server certificates (IAM API reference: UploadServerCertificate, GetServerCertificate,
ListServerCertificates, UpdateServerCertificate, DeleteServerCertificate and their tag
operations): the metadata's shape, the private key sealed and never answered, names
unique case-insensitively, 20 per account, paths and paging, tags as every taggable
entity's, authorization on the certificate's ARN."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from sqlalchemy import select
from tests.service.conftest import ACCOUNT, Call, Clock, fails

from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction
from support.server_certs import NOT_AFTER, upload

UP = upload()
_lines = UP.private_key.splitlines()
#: The key with its DER cut short: parses as PEM, not as a key.
CORRUPT_KEY = "\n".join(_lines[:3] + _lines[-1:]) + "\n"


def put(call: Call, name: str = "web", **kw: object) -> dict:  # type: ignore[type-arg]
    params = {
        "ServerCertificateName": name,
        "CertificateBody": UP.body,
        "PrivateKey": UP.private_key,
        **kw,
    }
    return dict(call("UploadServerCertificate", **params))


def arn(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:server-certificate{path}{name}"


def test_upload_get_list_update_delete(call: Call, clock: Clock) -> None:
    out = put(call, Path="/cloudfront/", CertificateChain=UP.chain)
    meta = out["ServerCertificateMetadata"]
    assert meta == {
        "Path": "/cloudfront/",
        "ServerCertificateName": "web",
        "ServerCertificateId": meta["ServerCertificateId"],
        "Arn": arn("web", "/cloudfront/"),
        "UploadDate": clock.now,
        "Expiration": NOT_AFTER,
    }
    assert "Tags" not in out
    assert re.fullmatch(r"ASCA[A-Z2-7]{17}", meta["ServerCertificateId"])

    got = call("GetServerCertificate", ServerCertificateName="WEB")["ServerCertificate"]
    assert got == {
        "ServerCertificateMetadata": meta,
        "CertificateBody": UP.body,
        "CertificateChain": UP.chain,
        "Tags": [],
    }
    assert "PRIVATE KEY" not in json.dumps(got, default=str)

    assert call("ListServerCertificates") == {
        "ServerCertificateMetadataList": [meta],
        "IsTruncated": False,
    }
    call(
        "UpdateServerCertificate",
        ServerCertificateName="web",
        NewServerCertificateName="www",
        NewPath="/",
    )
    renamed = call("GetServerCertificate", ServerCertificateName="www")["ServerCertificate"]
    assert renamed["ServerCertificateMetadata"]["Arn"] == arn("www")
    fails(
        "NoSuchEntity",
        "The Server Certificate with name web cannot be found.",
        call,
        "GetServerCertificate",
        ServerCertificateName="web",
    )
    call("DeleteServerCertificate", ServerCertificateName="www")
    assert call("ListServerCertificates")["ServerCertificateMetadataList"] == []


def test_the_private_key_is_stored_sealed(runtime: Runtime, call: Call) -> None:
    cert_id = put(call)["ServerCertificateMetadata"]["ServerCertificateId"]
    with read_transaction(runtime.engine) as conn:
        row = conn.execute(select(t.server_certificates)).one()
    assert UP.private_key.encode() not in row.private_key_ciphertext
    assert b"PRIVATE KEY" not in row.private_key_ciphertext
    assert runtime.box.open(row.private_key_ciphertext, cert_id.encode()) == UP.private_key.encode()


def test_names_are_unique_case_insensitively(call: Call) -> None:
    put(call, "web")
    fails(
        "EntityAlreadyExists",
        "The Server Certificate with name WEB already exists.",
        put,
        call,
        "WEB",
    )
    put(call, "api")
    fails(
        "EntityAlreadyExists",
        "The Server Certificate with name Api already exists.",
        call,
        "UpdateServerCertificate",
        ServerCertificateName="web",
        NewServerCertificateName="Api",
    )


def test_twenty_per_account(call: Call) -> None:
    for n in range(20):
        put(call, f"c{n}")
    fails(
        "LimitExceeded",
        "Cannot exceed quota for ServerCertificatesPerAccount: 20",
        put,
        call,
        "c20",
    )
    summary = call("GetAccountSummary")["SummaryMap"]
    assert summary["ServerCertificates"] == 20 and summary["ServerCertificatesQuota"] == 20


@pytest.mark.parametrize(
    ("operation", "extra"),
    [
        ("GetServerCertificate", {}),
        ("UpdateServerCertificate", {"NewPath": "/x/"}),
        ("DeleteServerCertificate", {}),
        ("TagServerCertificate", {"Tags": [{"Key": "a", "Value": "b"}]}),
        ("UntagServerCertificate", {"TagKeys": ["a"]}),
        ("ListServerCertificateTags", {}),
    ],
)
def test_unknown_names(call: Call, operation: str, extra: dict) -> None:  # type: ignore[type-arg]
    fails(
        "NoSuchEntity",
        "The Server Certificate with name nope cannot be found.",
        call,
        operation,
        ServerCertificateName="nope",
        **extra,
    )


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"CertificateBody": "junk"}, "MalformedCertificate"),
        ({"PrivateKey": "junk"}, "MalformedCertificate"),
        ({"PrivateKey": CORRUPT_KEY}, "MalformedCertificate"),
        ({"CertificateChain": "junk"}, "MalformedCertificate"),
    ],
    ids=["body", "key", "corrupt-key", "chain"],
)
def test_bad_uploads_leave_nothing(call: Call, kw: dict, code: str) -> None:  # type: ignore[type-arg]
    fails(code, None, put, call, **kw)
    assert call("ListServerCertificates")["ServerCertificateMetadataList"] == []


def test_path_prefix_and_paging(call: Call) -> None:
    for name, path in (("a", "/"), ("b", "/cloudfront/"), ("c", "/cloudfront/prod/"), ("d", "/x/")):
        put(call, name, Path=path)
    cf = call("ListServerCertificates", PathPrefix="/cloudfront/")["ServerCertificateMetadataList"]
    assert [m["ServerCertificateName"] for m in cf] == ["b", "c"]
    seen, marker = [], None
    while True:
        page = call("ListServerCertificates", MaxItems=3, **({"Marker": marker} if marker else {}))
        seen += [m["ServerCertificateName"] for m in page["ServerCertificateMetadataList"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == ["a", "b", "c", "d"]


def test_tags(call: Call) -> None:
    out = put(call, Tags=[{"Key": "env", "Value": "prod"}])
    assert out["Tags"] == [{"Key": "env", "Value": "prod"}]
    call(
        "TagServerCertificate",
        ServerCertificateName="web",
        Tags=[{"Key": "ENV", "Value": "dev"}, {"Key": "team", "Value": "web"}],
    )
    tags = call("ListServerCertificateTags", ServerCertificateName="web")
    assert tags == {
        "Tags": [{"Key": "ENV", "Value": "dev"}, {"Key": "team", "Value": "web"}],
        "IsTruncated": False,
    }
    call("UntagServerCertificate", ServerCertificateName="web", TagKeys=["env"])
    got = call("GetServerCertificate", ServerCertificateName="web")["ServerCertificate"]
    assert got["Tags"] == [{"Key": "team", "Value": "web"}]
    fails(
        "InvalidInput",
        None,
        call,
        "TagServerCertificate",
        ServerCertificateName="web",
        Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}],
    )
    call("DeleteServerCertificate", ServerCertificateName="web")
    put(call)  # the same name again starts with no tags
    assert call("ListServerCertificateTags", ServerCertificateName="web")["Tags"] == []


def test_authorized_on_the_certificates_arn(
    call: Call, caller_for: Callable[[str], Caller]
) -> None:
    put(call, "web", Path="/prod/", Tags=[{"Key": "team", "Value": "web"}])
    call("CreateUser", UserName="ops")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:GetServerCertificate", "iam:UploadServerCertificate"],
                "Resource": f"arn:aws:iam::{ACCOUNT}:server-certificate/prod/*",
                "Condition": {"StringEqualsIfExists": {"aws:ResourceTag/team": "web"}},
            }
        ],
    }
    call("PutUserPolicy", UserName="ops", PolicyName="p", PolicyDocument=json.dumps(policy))
    ops = caller_for("ops")
    call("GetServerCertificate", caller=ops, ServerCertificateName="web")
    put(call, "other", Path="/prod/", Tags=[{"Key": "team", "Value": "db"}])
    fails(
        "AccessDenied",
        None,
        call,
        "GetServerCertificate",
        caller=ops,
        ServerCertificateName="other",
    )
    put(call, "mine", caller=ops, Path="/prod/")
    fails("AccessDenied", None, put, call, "elsewhere", caller=ops, Path="/dev/")
    # Creating with tags also asks for iam:TagServerCertificate
    fails(
        "AccessDenied",
        None,
        put,
        call,
        "tagged",
        caller=ops,
        Path="/prod/",
        Tags=[{"Key": "team", "Value": "web"}],
    )
    fails("AccessDenied", None, call, "ListServerCertificates", caller=ops)
