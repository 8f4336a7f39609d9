"""Service-specific credentials (IAM API reference: CreateServiceSpecificCredential,
ListServiceSpecificCredentials, ResetServiceSpecificCredential,
UpdateServiceSpecificCredential, DeleteServiceSpecificCredential; the
ServiceSpecificCredential data type): the services AWS accepts, two per user per
service, the secret shown on Create and Reset only and stored sealed, members on their
own user only, DeleteUser refused while one exists."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.service.conftest import ACCOUNT, Call, Clock, fails, on_own_user, race

from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction

ACTIONS = [
    "iam:CreateServiceSpecificCredential",
    "iam:ListServiceSpecificCredentials",
    "iam:ResetServiceSpecificCredential",
    "iam:UpdateServiceSpecificCredential",
    "iam:DeleteServiceSpecificCredential",
]
CODECOMMIT = "codecommit.amazonaws.com"
PASSWORD = re.compile(r"[A-Za-z0-9+/]{43}=")


def create(call: Call, user: str = "alice", service: str = CODECOMMIT, **kw: object) -> dict:  # type: ignore[type-arg]
    out = call("CreateServiceSpecificCredential", UserName=user, ServiceName=service, **kw)
    return dict(out["ServiceSpecificCredential"])


def test_create_list_reset_update_delete(call: Call, clock: Clock, alice: str) -> None:
    cred = create(call)
    cred_id = cred["ServiceSpecificCredentialId"]
    password = cred["ServicePassword"]
    assert cred == {
        "UserName": "alice",
        "Status": "Active",
        "CreateDate": clock.now,
        "ServiceSpecificCredentialId": cred_id,
        "ServiceName": CODECOMMIT,
        "ServiceUserName": f"alice-at-{ACCOUNT}",
        "ServicePassword": password,
    }
    assert re.fullmatch(r"ACCA[A-Z2-7]{17}", cred_id)
    assert PASSWORD.fullmatch(password)

    listed = call("ListServiceSpecificCredentials", UserName=alice)
    metadata = {k: v for k, v in cred.items() if k != "ServicePassword"}
    assert listed == {"ServiceSpecificCredentials": [metadata], "IsTruncated": False}

    reset = call(
        "ResetServiceSpecificCredential", UserName=alice, ServiceSpecificCredentialId=cred_id
    )
    new = reset["ServiceSpecificCredential"]
    assert new == {**cred, "ServicePassword": new["ServicePassword"]}
    assert PASSWORD.fullmatch(new["ServicePassword"]) and new["ServicePassword"] != password

    call(
        "UpdateServiceSpecificCredential",
        UserName=alice,
        ServiceSpecificCredentialId=cred_id,
        Status="Inactive",
    )
    listed = call("ListServiceSpecificCredentials", UserName=alice)["ServiceSpecificCredentials"]
    assert [c["Status"] for c in listed] == ["Inactive"]

    call("DeleteServiceSpecificCredential", UserName=alice, ServiceSpecificCredentialId=cred_id)
    assert (
        call("ListServiceSpecificCredentials", UserName=alice)["ServiceSpecificCredentials"] == []
    )


def test_the_secret_is_stored_sealed(runtime: Runtime, call: Call, alice: str) -> None:
    cred = create(call)
    with read_transaction(runtime.engine) as conn:
        row = conn.execute(select(t.service_specific_credentials)).one()
    password = cred["ServicePassword"].encode()
    assert password not in row.secret_ciphertext
    ad = cred["ServiceSpecificCredentialId"].encode()
    assert runtime.box.open(row.secret_ciphertext, ad) == password


def test_every_supported_service_and_its_shape(call: Call, clock: Clock, alice: str) -> None:
    for service in ("codecommit.amazonaws.com", "cassandra.amazonaws.com"):
        assert create(call, service=service)["ServiceUserName"] == f"alice-at-{ACCOUNT}"
    for service in ("bedrock.amazonaws.com", "logs.amazonaws.com"):
        key = create(call, service=service, CredentialAgeDays=30)
        assert "ServicePassword" not in key and "ServiceUserName" not in key
        assert key["ServiceCredentialAlias"].startswith(f"alice-at-{ACCOUNT}")
        assert key["ExpirationDate"] == clock.now + timedelta(days=30)
        assert key["ServiceCredentialSecret"]
    bedrock = create(call, service="bedrock.amazonaws.com")
    assert bedrock["ServiceCredentialSecret"].startswith("ABSK")
    decoded = base64.b64decode(bedrock["ServiceCredentialSecret"][4:]).decode()
    assert decoded.startswith(bedrock["ServiceCredentialAlias"] + ":")
    assert "ExpirationDate" not in bedrock


def test_an_api_key_reads_expired_after_its_age(call: Call, clock: Clock, alice: str) -> None:
    key = create(call, service="bedrock.amazonaws.com", CredentialAgeDays=1)
    clock.now += timedelta(days=1)
    listed = call("ListServiceSpecificCredentials", UserName=alice)["ServiceSpecificCredentials"]
    assert listed[0]["Status"] == "Expired"
    assert listed[0]["ServiceSpecificCredentialId"] == key["ServiceSpecificCredentialId"]


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        (
            {"UserName": "alice", "ServiceName": "s3.amazonaws.com"},
            "NotSupportedService",
            "Service s3.amazonaws.com is not supported for service-specific credentials.",
        ),
        (
            {"UserName": "alice", "ServiceName": "codecommit"},
            "NotSupportedService",
            None,
        ),
        (
            {"UserName": "nobody", "ServiceName": CODECOMMIT},
            "NoSuchEntity",
            "The user with name nobody cannot be found.",
        ),
        (
            {"UserName": "alice", "ServiceName": CODECOMMIT, "CredentialAgeDays": 5},
            "ValidationError",
            "CredentialAgeDays is only valid for Bedrock and CloudWatch Logs API keys.",
        ),
    ],
    ids=["other-service", "short-name", "unknown-user", "age-on-a-password"],
)
def test_create_refusals(
    call: Call, alice: str, params: dict, code: str, message: str | None
) -> None:  # type: ignore[type-arg]
    fails(code, message, call, "CreateServiceSpecificCredential", **params)
    assert (
        call("ListServiceSpecificCredentials", UserName=alice)["ServiceSpecificCredentials"] == []
    )


def test_two_per_user_per_service(call: Call, alice: str) -> None:
    create(call)
    create(call)
    fails(
        "LimitExceeded",
        "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2",
        create,
        call,
    )
    create(call, service="cassandra.amazonaws.com")  # another service has its own two
    call("CreateUser", UserName="bob")
    create(call, user="bob")


def test_racing_creates_end_with_two(runtime: Runtime, call: Call, alice: str) -> None:
    params = {"UserName": alice, "ServiceName": CODECOMMIT}
    outcomes = race(runtime, "CreateServiceSpecificCredential", [params] * 6, "ok")
    assert outcomes.count("ok") == 2 and outcomes.count("LimitExceeded") == 4


@pytest.mark.parametrize(
    "operation",
    [
        "ResetServiceSpecificCredential",
        "UpdateServiceSpecificCredential",
        "DeleteServiceSpecificCredential",
    ],
)
def test_unknown_or_someone_elses_credential(call: Call, alice: str, operation: str) -> None:
    call("CreateUser", UserName="bob")
    bobs = create(call, user="bob")["ServiceSpecificCredentialId"]
    extra = {"Status": "Active"} if operation.startswith("Update") else {}
    for cred_id in ("ACCAAAAAAAAAAAAAAAAAA", bobs):
        fails(
            "NoSuchEntity",
            f"No such credential {cred_id} exists",
            call,
            operation,
            UserName=alice,
            ServiceSpecificCredentialId=cred_id,
            **extra,
        )
    assert (
        len(call("ListServiceSpecificCredentials", UserName="bob")["ServiceSpecificCredentials"])
        == 1
    )


def test_expired_is_not_a_settable_status(call: Call, alice: str) -> None:
    cred_id = create(call)["ServiceSpecificCredentialId"]
    fails(
        "ValidationError",
        "1 validation error detected: Value 'Expired' at 'status' failed to satisfy constraint:"
        " Member must satisfy enum value set: [Active, Inactive]",
        call,
        "UpdateServiceSpecificCredential",
        UserName=alice,
        ServiceSpecificCredentialId=cred_id,
        Status="Expired",
    )


def test_list_filters_by_service_and_pages(call: Call, alice: str) -> None:
    ids = sorted(
        create(call, service=s)["ServiceSpecificCredentialId"]
        for s in ("codecommit.amazonaws.com", "codecommit.amazonaws.com", "cassandra.amazonaws.com")
    )
    only = call(
        "ListServiceSpecificCredentials", UserName=alice, ServiceName="cassandra.amazonaws.com"
    )
    assert [c["ServiceName"] for c in only["ServiceSpecificCredentials"]] == [
        "cassandra.amazonaws.com"
    ]
    fails(
        "NotSupportedService",
        None,
        call,
        "ListServiceSpecificCredentials",
        UserName=alice,
        ServiceName="ec2.amazonaws.com",
    )
    seen, marker = [], None
    while True:
        page = call(
            "ListServiceSpecificCredentials",
            UserName=alice,
            MaxItems=2,
            **({"Marker": marker} if marker else {}),
        )
        seen += [c["ServiceSpecificCredentialId"] for c in page["ServiceSpecificCredentials"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == ids


def test_all_users(call: Call, alice: str) -> None:
    call("CreateUser", UserName="bob")
    create(call)
    create(call, user="bob")
    listed = call("ListServiceSpecificCredentials", AllUsers=True)["ServiceSpecificCredentials"]
    assert sorted(c["UserName"] for c in listed) == ["alice", "bob"]
    fails(
        "ValidationError",
        None,
        call,
        "ListServiceSpecificCredentials",
        AllUsers=True,
        UserName=alice,
    )


def test_members_manage_only_their_own(
    call: Call, caller_for: Callable[[str], Caller], alice: str
) -> None:
    call("CreateUser", UserName="bob")
    for name in (alice, "bob"):
        call("PutUserPolicy", UserName=name, PolicyName="self", PolicyDocument=on_own_user(ACTIONS))
    alice_c, bob_c = caller_for(alice), caller_for("bob")
    mine = call(
        "CreateServiceSpecificCredential", caller=alice_c, UserName=alice, ServiceName=CODECOMMIT
    )["ServiceSpecificCredential"]
    cred_id = mine["ServiceSpecificCredentialId"]
    # omitted UserName is the caller
    assert (
        call("ListServiceSpecificCredentials", caller=alice_c)["ServiceSpecificCredentials"][0][
            "ServiceSpecificCredentialId"
        ]
        == cred_id
    )
    for operation, extra in (
        ("CreateServiceSpecificCredential", {"ServiceName": CODECOMMIT}),
        ("ListServiceSpecificCredentials", {}),
        ("ResetServiceSpecificCredential", {"ServiceSpecificCredentialId": cred_id}),
        (
            "UpdateServiceSpecificCredential",
            {"ServiceSpecificCredentialId": cred_id, "Status": "Inactive"},
        ),
        ("DeleteServiceSpecificCredential", {"ServiceSpecificCredentialId": cred_id}),
    ):
        fails("AccessDenied", None, call, operation, caller=bob_c, UserName=alice, **extra)
    # bob naming alice's id on his own user learns nothing either
    fails(
        "NoSuchEntity",
        None,
        call,
        "DeleteServiceSpecificCredential",
        caller=bob_c,
        ServiceSpecificCredentialId=cred_id,
    )
    fails("AccessDenied", None, call, "ListServiceSpecificCredentials", caller=bob_c, AllUsers=True)
    listed = call("ListServiceSpecificCredentials", UserName=alice)["ServiceSpecificCredentials"]
    assert [c["Status"] for c in listed] == ["Active"]


def test_delete_user_needs_them_gone(call: Call, alice: str) -> None:
    cred_id = create(call)["ServiceSpecificCredentialId"]
    fails(
        "DeleteConflict",
        "Cannot delete entity, must remove referenced objects first.",
        call,
        "DeleteUser",
        UserName=alice,
    )
    call("DeleteServiceSpecificCredential", UserName=alice, ServiceSpecificCredentialId=cred_id)
    call("DeleteUser", UserName=alice)
