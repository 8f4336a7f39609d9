"""Signing certificates: upload/list/update/delete, the two-per-user limit (also under racing
writers), one certificate per account, and nobody touching another user's certificates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from tests.domain.test_certificates import make_certificate
from tests.service.conftest import ACCOUNT, Call, Clock, fails, on_own_user, race

from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime

CERT_ACTIONS = [
    "iam:UploadSigningCertificate",
    "iam:ListSigningCertificates",
    "iam:UpdateSigningCertificate",
    "iam:DeleteSigningCertificate",
]
SELF_SERVICE = on_own_user(CERT_ACTIONS)


def not_found(certificate_id: str) -> str:
    return f"The Certificate with id {certificate_id} cannot be found."


@pytest.fixture
def cert(clock: Clock) -> Callable[[], str]:
    """A fresh certificate valid at the test clock's time."""
    return lambda: make_certificate(not_before=clock.now - timedelta(days=1))


def test_upload_list_update_delete(
    call: Call, clock: Clock, alice: str, cert: Callable[[], str]
) -> None:
    body = cert()
    uploaded = call("UploadSigningCertificate", UserName=alice, CertificateBody=body)
    c = uploaded["Certificate"]
    assert c == {
        "UserName": "alice",
        "CertificateId": c["CertificateId"],
        "CertificateBody": body,
        "Status": "Active",
        "UploadDate": clock.now,
    }
    assert len(c["CertificateId"]) == 32
    assert call("ListSigningCertificates", UserName=alice) == {
        "Certificates": [c],
        "IsTruncated": False,
    }
    call(
        "UpdateSigningCertificate",
        UserName=alice,
        CertificateId=c["CertificateId"],
        Status="Inactive",
    )
    listed = call("ListSigningCertificates", UserName=alice)["Certificates"]
    assert [x["Status"] for x in listed] == ["Inactive"]
    call(
        "UpdateSigningCertificate",
        UserName=alice,
        CertificateId=c["CertificateId"],
        Status="Active",
    )
    call("DeleteSigningCertificate", UserName=alice, CertificateId=c["CertificateId"])
    assert call("ListSigningCertificates", UserName=alice)["Certificates"] == []


def test_unknown_user_is_reported_before_the_certificate(
    call: Call, cert: Callable[[], str]
) -> None:
    msg = "The user with name ghost cannot be found."
    fails(
        "NoSuchEntity",
        msg,
        call,
        "UploadSigningCertificate",
        UserName="ghost",
        CertificateBody=cert(),
    )
    fails("NoSuchEntity", msg, call, "ListSigningCertificates", UserName="ghost")
    fails(
        "NoSuchEntity",
        msg,
        call,
        "UpdateSigningCertificate",
        UserName="ghost",
        CertificateId="X" * 32,
        Status="Inactive",
    )
    fails(
        "NoSuchEntity",
        msg,
        call,
        "DeleteSigningCertificate",
        UserName="ghost",
        CertificateId="X" * 32,
    )


def test_unknown_certificate(call: Call, alice: str) -> None:
    missing = "NONEXISTENTCERTID12345678901"
    fails(
        "NoSuchEntity",
        not_found(missing),
        call,
        "UpdateSigningCertificate",
        UserName=alice,
        CertificateId=missing,
        Status="Inactive",
    )
    fails(
        "NoSuchEntity",
        not_found(missing),
        call,
        "DeleteSigningCertificate",
        UserName=alice,
        CertificateId=missing,
    )


def test_malformed_certificate_leaves_nothing(call: Call, alice: str) -> None:
    fails(
        "MalformedCertificate",
        "Certificate invalid-certificate-body is malformed.",
        call,
        "UploadSigningCertificate",
        UserName=alice,
        CertificateBody="invalid-certificate-body",
    )
    assert call("ListSigningCertificates", UserName=alice)["Certificates"] == []


def test_expired_certificate_is_refused(call: Call, clock: Clock, alice: str) -> None:
    expired = make_certificate(not_before=clock.now - timedelta(days=30), days=10)
    fails(
        "MalformedCertificate",
        None,
        call,
        "UploadSigningCertificate",
        UserName=alice,
        CertificateBody=expired,
    )


def test_third_certificate_exceeds_the_quota(
    call: Call, alice: str, cert: Callable[[], str]
) -> None:
    first = call("UploadSigningCertificate", UserName=alice, CertificateBody=cert())
    call("UploadSigningCertificate", UserName=alice, CertificateBody=cert())
    fails(
        "LimitExceeded",
        "Cannot exceed quota for CertificatesPerUser: 2",
        call,
        "UploadSigningCertificate",
        UserName=alice,
        CertificateBody=cert(),
    )
    call(
        "UpdateSigningCertificate",
        UserName=alice,
        CertificateId=first["Certificate"]["CertificateId"],
        Status="Inactive",
    )
    fails(
        "LimitExceeded",
        None,
        call,
        "UploadSigningCertificate",
        UserName=alice,
        CertificateBody=cert(),
    )
    call(
        "DeleteSigningCertificate",
        UserName=alice,
        CertificateId=first["Certificate"]["CertificateId"],
    )
    call("UploadSigningCertificate", UserName=alice, CertificateBody=cert())


def test_the_same_certificate_once_per_account(
    call: Call, alice: str, cert: Callable[[], str]
) -> None:
    call("CreateUser", UserName="bob")
    body = cert()
    call("UploadSigningCertificate", UserName=alice, CertificateBody=body)
    for user, again in ((alice, body), ("bob", body), ("bob", body.replace("\n", "\r\n"))):
        err = fails(
            "DuplicateCertificate",
            None,
            call,
            "UploadSigningCertificate",
            UserName=user,
            CertificateBody=again,
        )
        assert err.status == 409
    assert call("ListSigningCertificates", UserName="bob")["Certificates"] == []
    assert len(call("ListSigningCertificates", UserName=alice)["Certificates"]) == 1


def test_expired_is_not_a_status_a_caller_may_set(
    call: Call, alice: str, cert: Callable[[], str]
) -> None:
    c = call("UploadSigningCertificate", UserName=alice, CertificateBody=cert())["Certificate"]
    fails(
        "ValidationError",
        "1 validation error detected: Value 'Expired' at 'status' failed to satisfy constraint:"
        " Member must satisfy enum value set: [Active, Inactive]",
        call,
        "UpdateSigningCertificate",
        UserName=alice,
        CertificateId=c["CertificateId"],
        Status="Expired",
    )
    assert call("ListSigningCertificates", UserName=alice)["Certificates"][0]["Status"] == "Active"


def test_eight_racing_uploads_end_with_two(
    runtime: Runtime, call: Call, alice: str, cert: Callable[[], str]
) -> None:
    uploads = [{"UserName": alice, "CertificateBody": cert()} for _ in range(8)]
    outcomes = race(runtime, "UploadSigningCertificate", uploads, ok="uploaded")
    assert outcomes == ["LimitExceeded"] * 6 + ["uploaded"] * 2
    assert len(call("ListSigningCertificates", UserName=alice)["Certificates"]) == 2


def test_list_paginates(call: Call, alice: str, cert: Callable[[], str]) -> None:
    ids = sorted(
        call("UploadSigningCertificate", UserName=alice, CertificateBody=cert())["Certificate"][
            "CertificateId"
        ]
        for _ in range(2)
    )
    first = call("ListSigningCertificates", UserName=alice, MaxItems=1)
    assert [c["CertificateId"] for c in first["Certificates"]] == ids[:1]
    assert first["IsTruncated"] is True
    second = call("ListSigningCertificates", UserName=alice, MaxItems=1, Marker=first["Marker"])
    assert [c["CertificateId"] for c in second["Certificates"]] == ids[1:]
    assert second["IsTruncated"] is False


def test_root_must_name_the_user(call: Call, cert: Callable[[], str]) -> None:
    fails("ValidationError", None, call, "UploadSigningCertificate", CertificateBody=cert())
    fails("ValidationError", None, call, "ListSigningCertificates")


def test_users_manage_only_their_own_certificates(
    call: Call, caller_for: Callable[[str], Caller], alice: str, cert: Callable[[], str]
) -> None:
    call("CreateUser", UserName="bob")
    for name in (alice, "bob"):
        call("PutUserPolicy", UserName=name, PolicyName="self", PolicyDocument=SELF_SERVICE)
    alice_c, bob_c = caller_for(alice), caller_for("bob")

    own = call("UploadSigningCertificate", caller=alice_c, CertificateBody=cert())["Certificate"]
    assert own["UserName"] == "alice"
    listed = call("ListSigningCertificates", caller=alice_c)["Certificates"]
    assert [c["CertificateId"] for c in listed] == [own["CertificateId"]]

    bob_arn = f"arn:aws:iam::{ACCOUNT}:user/bob"
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
        f"iam:UploadSigningCertificate on resource: {bob_arn} because no identity-based "
        "policy allows the iam:UploadSigningCertificate action",
        call,
        "UploadSigningCertificate",
        caller=alice_c,
        UserName="bob",
        CertificateBody=cert(),
    )
    fails("AccessDenied", None, call, "ListSigningCertificates", caller=alice_c, UserName="bob")
    # bob cannot reach alice's certificate by naming himself with her id.
    for op, extra in (
        ("UpdateSigningCertificate", {"Status": "Inactive"}),
        ("DeleteSigningCertificate", {}),
    ):
        fails(
            "NoSuchEntity",
            not_found(own["CertificateId"]),
            call,
            op,
            caller=bob_c,
            CertificateId=own["CertificateId"],
            **extra,
        )
        fails(
            "AccessDenied",
            None,
            call,
            op,
            caller=bob_c,
            UserName=alice,
            CertificateId=own["CertificateId"],
            **extra,
        )
    assert call("ListSigningCertificates", UserName=alice)["Certificates"] == [own]
    call("DeleteSigningCertificate", caller=alice_c, CertificateId=own["CertificateId"])


def test_delete_user_needs_certificates_gone(
    call: Call, alice: str, cert: Callable[[], str]
) -> None:
    c = call("UploadSigningCertificate", UserName=alice, CertificateBody=cert())["Certificate"]
    fails(
        "DeleteConflict",
        "Cannot delete entity, must delete certificates first.",
        call,
        "DeleteUser",
        UserName=alice,
    )
    call("DeleteSigningCertificate", UserName=alice, CertificateId=c["CertificateId"])
    call("DeleteUser", UserName=alice)
