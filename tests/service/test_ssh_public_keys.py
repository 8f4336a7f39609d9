"""SSH public keys: upload/get (both encodings)/list/update/delete, the five-key limit (also
under racing writers), duplicates by fingerprint, and nobody touching another user's keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.domain.test_ssh_keys import (
    ed25519_public_key,
    expected_md5,
    openssh,
    rsa_public_key,
    spki_pem,
)
from tests.service.conftest import ACCOUNT, Call, Clock, fails, on_own_user, race

from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime

SSH_ACTIONS = [
    "iam:UploadSSHPublicKey",
    "iam:GetSSHPublicKey",
    "iam:ListSSHPublicKeys",
    "iam:UpdateSSHPublicKey",
    "iam:DeleteSSHPublicKey",
]
SELF_SERVICE = on_own_user(SSH_ACTIONS)


def not_found(key_id: str) -> str:
    return f"The Public Key with id {key_id} cannot be found."


def ed25519_line() -> str:
    return openssh(ed25519_public_key())


def test_upload_get_list_update_delete(call: Call, clock: Clock, alice: str) -> None:
    pub = rsa_public_key()
    body = openssh(pub) + " alice@laptop"
    key = call("UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=body)["SSHPublicKey"]
    key_id = key["SSHPublicKeyId"]
    assert key == {
        "UserName": "alice",
        "SSHPublicKeyId": key_id,
        "Fingerprint": expected_md5(body),
        "SSHPublicKeyBody": body,
        "Status": "Active",
        "UploadDate": clock.now,
    }
    assert key_id.startswith("APKA") and len(key_id) == 20

    as_ssh = call("GetSSHPublicKey", UserName=alice, SSHPublicKeyId=key_id, Encoding="SSH")
    assert as_ssh["SSHPublicKey"] == {**key, "SSHPublicKeyBody": openssh(pub)}
    as_pem = call("GetSSHPublicKey", UserName=alice, SSHPublicKeyId=key_id, Encoding="PEM")
    assert as_pem["SSHPublicKey"] == {**key, "SSHPublicKeyBody": spki_pem(pub)}

    assert call("ListSSHPublicKeys", UserName=alice) == {
        "SSHPublicKeys": [
            {
                "UserName": "alice",
                "SSHPublicKeyId": key_id,
                "Status": "Active",
                "UploadDate": clock.now,
            }
        ],
        "IsTruncated": False,
    }
    call("UpdateSSHPublicKey", UserName=alice, SSHPublicKeyId=key_id, Status="Inactive")
    got = call("GetSSHPublicKey", UserName=alice, SSHPublicKeyId=key_id, Encoding="SSH")
    assert got["SSHPublicKey"]["Status"] == "Inactive"
    call("DeleteSSHPublicKey", UserName=alice, SSHPublicKeyId=key_id)
    assert call("ListSSHPublicKeys", UserName=alice)["SSHPublicKeys"] == []
    fails(
        "NoSuchEntity",
        not_found(key_id),
        call,
        "GetSSHPublicKey",
        UserName=alice,
        SSHPublicKeyId=key_id,
        Encoding="SSH",
    )


def test_a_pem_upload_reads_back_in_ssh(call: Call, alice: str) -> None:
    pub = ed25519_public_key()
    key = call("UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=spki_pem(pub))
    key_id = key["SSHPublicKey"]["SSHPublicKeyId"]
    assert key["SSHPublicKey"]["SSHPublicKeyBody"] == spki_pem(pub)
    got = call("GetSSHPublicKey", UserName=alice, SSHPublicKeyId=key_id, Encoding="SSH")
    assert got["SSHPublicKey"]["SSHPublicKeyBody"] == openssh(pub)
    assert got["SSHPublicKey"]["Fingerprint"] == expected_md5(openssh(pub))


def test_unknown_user_and_unknown_key(call: Call, alice: str) -> None:
    msg = "The user with name ghost cannot be found."
    fails(
        "NoSuchEntity",
        msg,
        call,
        "UploadSSHPublicKey",
        UserName="ghost",
        SSHPublicKeyBody=ed25519_line(),
    )
    fails("NoSuchEntity", msg, call, "ListSSHPublicKeys", UserName="ghost")
    missing = "APKAXXXXXXXXXXXXXXXXX"
    fails(
        "NoSuchEntity",
        msg,
        call,
        "GetSSHPublicKey",
        UserName="ghost",
        SSHPublicKeyId=missing,
        Encoding="SSH",
    )
    fails(
        "NoSuchEntity",
        not_found(missing),
        call,
        "GetSSHPublicKey",
        UserName=alice,
        SSHPublicKeyId=missing,
        Encoding="SSH",
    )
    fails(
        "NoSuchEntity",
        not_found(missing),
        call,
        "UpdateSSHPublicKey",
        UserName=alice,
        SSHPublicKeyId=missing,
        Status="Inactive",
    )
    fails(
        "NoSuchEntity",
        not_found(missing),
        call,
        "DeleteSSHPublicKey",
        UserName=alice,
        SSHPublicKeyId=missing,
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not a key", "UnrecognizedPublicKeyEncoding"),
        ("ssh-rsa AAAA", "InvalidPublicKey"),
    ],
)
def test_bad_keys_leave_nothing(call: Call, alice: str, body: str, code: str) -> None:
    err = fails(code, None, call, "UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=body)
    assert err.status == 400
    assert call("ListSSHPublicKeys", UserName=alice)["SSHPublicKeys"] == []


def test_short_rsa_key_is_invalid(call: Call, alice: str) -> None:
    fails(
        "InvalidPublicKey",
        "The RSA public key has 1024 bits; the minimum length is 2048 bits.",
        call,
        "UploadSSHPublicKey",
        UserName=alice,
        SSHPublicKeyBody=openssh(rsa_public_key(1024)),
    )


def test_unknown_encoding_on_get(call: Call, alice: str) -> None:
    key = call("UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=ed25519_line())
    fails(
        "UnrecognizedPublicKeyEncoding",
        None,
        call,
        "GetSSHPublicKey",
        UserName=alice,
        SSHPublicKeyId=key["SSHPublicKey"]["SSHPublicKeyId"],
        Encoding="DER",
    )


def test_the_same_key_twice_for_one_user(call: Call, alice: str) -> None:
    call("CreateUser", UserName="bob")
    pub = rsa_public_key()
    call("UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=openssh(pub))
    for again in (openssh(pub) + " other-comment", spki_pem(pub)):
        err = fails(
            "DuplicateSSHPublicKey",
            None,
            call,
            "UploadSSHPublicKey",
            UserName=alice,
            SSHPublicKeyBody=again,
        )
        assert err.status == 400
    # Another user may hold the same public key (AWS: "already associated with the
    # specified IAM user").
    call("UploadSSHPublicKey", UserName="bob", SSHPublicKeyBody=openssh(pub))
    assert len(call("ListSSHPublicKeys", UserName=alice)["SSHPublicKeys"]) == 1


def test_sixth_key_exceeds_the_quota(call: Call, alice: str) -> None:
    ids = [
        call("UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=ed25519_line())["SSHPublicKey"][
            "SSHPublicKeyId"
        ]
        for _ in range(5)
    ]
    fails(
        "LimitExceeded",
        "Cannot exceed quota for SSHPublicKeysPerUser: 5",
        call,
        "UploadSSHPublicKey",
        UserName=alice,
        SSHPublicKeyBody=ed25519_line(),
    )
    call("DeleteSSHPublicKey", UserName=alice, SSHPublicKeyId=ids[0])
    call("UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=ed25519_line())


def test_twelve_racing_uploads_end_with_five(runtime: Runtime, call: Call, alice: str) -> None:
    uploads = [{"UserName": alice, "SSHPublicKeyBody": ed25519_line()} for _ in range(12)]
    outcomes = race(runtime, "UploadSSHPublicKey", uploads, ok="uploaded")
    assert outcomes == ["LimitExceeded"] * 7 + ["uploaded"] * 5
    assert len(call("ListSSHPublicKeys", UserName=alice)["SSHPublicKeys"]) == 5


def test_list_paginates(call: Call, alice: str) -> None:
    ids = sorted(
        call("UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=ed25519_line())["SSHPublicKey"][
            "SSHPublicKeyId"
        ]
        for _ in range(3)
    )
    first = call("ListSSHPublicKeys", UserName=alice, MaxItems=2)
    assert [k["SSHPublicKeyId"] for k in first["SSHPublicKeys"]] == ids[:2]
    assert first["IsTruncated"] is True
    rest = call("ListSSHPublicKeys", UserName=alice, MaxItems=2, Marker=first["Marker"])
    assert [k["SSHPublicKeyId"] for k in rest["SSHPublicKeys"]] == ids[2:]
    assert rest["IsTruncated"] is False


def test_invalid_status(call: Call, alice: str) -> None:
    key = call("UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=ed25519_line())
    fails(
        "ValidationError",
        "1 validation error detected: Value 'Expired' at 'status' failed to satisfy constraint:"
        " Member must satisfy enum value set: [Active, Inactive]",
        call,
        "UpdateSSHPublicKey",
        UserName=alice,
        SSHPublicKeyId=key["SSHPublicKey"]["SSHPublicKeyId"],
        Status="Expired",
    )


def test_users_manage_only_their_own_keys(
    call: Call, caller_for: Callable[[str], Caller], alice: str
) -> None:
    call("CreateUser", UserName="bob")
    for name in (alice, "bob"):
        call("PutUserPolicy", UserName=name, PolicyName="self", PolicyDocument=SELF_SERVICE)
    alice_c, bob_c = caller_for(alice), caller_for("bob")
    bobs = call(
        "UploadSSHPublicKey", caller=bob_c, UserName="bob", SSHPublicKeyBody=ed25519_line()
    )["SSHPublicKey"]
    assert [
        k["SSHPublicKeyId"] for k in call("ListSSHPublicKeys", caller=bob_c)["SSHPublicKeys"]
    ] == [bobs["SSHPublicKeyId"]]
    bob_id = bobs["SSHPublicKeyId"]

    bob_arn = f"arn:aws:iam::{ACCOUNT}:user/bob"
    fails(
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
        f"iam:GetSSHPublicKey on resource: {bob_arn} because no identity-based policy "
        "allows the iam:GetSSHPublicKey action",
        call,
        "GetSSHPublicKey",
        caller=alice_c,
        UserName="bob",
        SSHPublicKeyId=bob_id,
        Encoding="SSH",
    )
    fails("AccessDenied", None, call, "ListSSHPublicKeys", caller=alice_c, UserName="bob")
    fails(
        "AccessDenied",
        None,
        call,
        "UploadSSHPublicKey",
        caller=alice_c,
        UserName="bob",
        SSHPublicKeyBody=ed25519_line(),
    )
    # Naming herself with bob's key id: not found, as if it did not exist.
    fails(
        "NoSuchEntity",
        not_found(bob_id),
        call,
        "GetSSHPublicKey",
        caller=alice_c,
        UserName=alice,
        SSHPublicKeyId=bob_id,
        Encoding="PEM",
    )
    fails(
        "NoSuchEntity",
        not_found(bob_id),
        call,
        "UpdateSSHPublicKey",
        caller=alice_c,
        UserName=alice,
        SSHPublicKeyId=bob_id,
        Status="Inactive",
    )
    fails(
        "NoSuchEntity",
        not_found(bob_id),
        call,
        "DeleteSSHPublicKey",
        caller=alice_c,
        UserName=alice,
        SSHPublicKeyId=bob_id,
    )
    got = call("GetSSHPublicKey", UserName="bob", SSHPublicKeyId=bob_id, Encoding="SSH")
    assert got["SSHPublicKey"]["Status"] == "Active"


def test_delete_user_needs_ssh_keys_gone(call: Call, alice: str) -> None:
    key = call("UploadSSHPublicKey", UserName=alice, SSHPublicKeyBody=ed25519_line())
    fails("DeleteConflict", None, call, "DeleteUser", UserName=alice)
    call("DeleteSSHPublicKey", UserName=alice, SSHPublicKeyId=key["SSHPublicKey"]["SSHPublicKeyId"])
    call("DeleteUser", UserName=alice)
