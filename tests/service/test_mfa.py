"""Virtual MFA devices: each operation, AWS's errors, replay, and another user's device."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import select
from tests.service.conftest import ACCOUNT, Call, Clock, denied, fails

from selfiam.auth.secretbox import SecretBoxError
from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime
from selfiam.store import tables as t
from selfiam.store.engine import read_transaction

INVALID_CODE = "Authentication code for device is not valid."
SELF_SERVICE_MFA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"],
                "Resource": "arn:aws:iam::*:mfa/${aws:username}",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "iam:EnableMFADevice",
                    "iam:ResyncMFADevice",
                    "iam:DeactivateMFADevice",
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
        ],
    }
)


def serial(name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:mfa{path}{name}"


class Device:
    """A virtual MFA device as its owner's authenticator app sees it."""

    def __init__(self, created: dict[str, Any], clock: Clock) -> None:
        self.serial: str = created["SerialNumber"]
        self.seed: str = created["Base32StringSeed"].decode()
        self.app = pyotp.TOTP(self.seed)
        self.clock = clock

    def code(self, offset_steps: int = 0) -> str:
        return self.app.at(self.clock() + timedelta(seconds=30 * offset_steps))

    def pair(self) -> dict[str, str]:
        """Two consecutive codes, as typed when enabling: the previous and the current."""
        return {"AuthenticationCode1": self.code(-1), "AuthenticationCode2": self.code()}


@pytest.fixture
def make_device(call: Call, clock: Clock) -> Callable[..., Device]:
    def make(name: str, *, caller: Caller | None = None, **params: Any) -> Device:
        created = call(
            "CreateVirtualMFADevice", VirtualMFADeviceName=name, caller=caller, **params
        )["VirtualMFADevice"]
        return Device(created, clock)

    return make


@pytest.fixture
def users(call: Call) -> None:
    for name in ("alice", "bob"):
        call("CreateUser", UserName=name)
        call("PutUserPolicy", UserName=name, PolicyName="mfa", PolicyDocument=SELF_SERVICE_MFA)


def enable(call: Call, user: str, device: Device, **kw: Any) -> None:
    call("EnableMFADevice", UserName=user, SerialNumber=device.serial, **device.pair(), **kw)


# -- CreateVirtualMFADevice -------------------------------------------------------------


def test_create_returns_serial_seed_and_qr_code(call: Call, runtime: Runtime) -> None:
    out = call("CreateVirtualMFADevice", VirtualMFADeviceName="alice")["VirtualMFADevice"]
    assert out["SerialNumber"] == serial("alice")
    seed = out["Base32StringSeed"]
    assert isinstance(seed, bytes) and len(seed) == 64
    assert len(base64.b32decode(seed)) == 40
    assert out["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    assert "Tags" not in out


def test_the_seed_is_sealed_at_rest(call: Call, runtime: Runtime) -> None:
    out = call("CreateVirtualMFADevice", VirtualMFADeviceName="alice")["VirtualMFADevice"]
    with read_transaction(runtime.engine) as conn:
        sealed = conn.execute(
            select(t.mfa_devices.c.seed_ciphertext).where(
                t.mfa_devices.c.serial_number == out["SerialNumber"]
            )
        ).scalar_one()
    assert out["Base32StringSeed"] not in sealed
    assert runtime.box.open(sealed, out["SerialNumber"].encode()) == out["Base32StringSeed"]
    with pytest.raises(SecretBoxError):  # bound to its serial number
        runtime.box.open(sealed, serial("mallory").encode())


def test_create_with_path_and_tags(call: Call) -> None:
    out = call(
        "CreateVirtualMFADevice",
        VirtualMFADeviceName="ci",
        Path="/team/",
        Tags=[{"Key": "Owner", "Value": "ops"}],
    )["VirtualMFADevice"]
    assert out["SerialNumber"] == serial("ci", "/team/")
    assert out["Tags"] == [{"Key": "Owner", "Value": "ops"}]
    listed = call("ListMFADeviceTags", SerialNumber=out["SerialNumber"])
    assert listed == {"Tags": [{"Key": "Owner", "Value": "ops"}], "IsTruncated": False}


def test_device_names_are_unique_case_insensitively(call: Call) -> None:
    call("CreateVirtualMFADevice", VirtualMFADeviceName="alice")
    message = "MFADevice entity at the same path and name already exists."
    for name, path in (("alice", "/"), ("ALICE", "/"), ("alice", "/other/")):
        fails(
            "EntityAlreadyExists",
            message,
            call,
            "CreateVirtualMFADevice",
            VirtualMFADeviceName=name,
            Path=path,
        )


def test_create_is_authorized_on_the_device_arn(
    call: Call, users: None, caller_for: Callable[[str], Caller]
) -> None:
    alice = caller_for("alice")
    call("CreateVirtualMFADevice", VirtualMFADeviceName="alice", caller=alice)
    fails(
        "AccessDenied",
        denied("alice", "iam:CreateVirtualMFADevice", serial("bob")),
        call,
        "CreateVirtualMFADevice",
        VirtualMFADeviceName="bob",
        caller=alice,
    )
    assert call("ListVirtualMFADevices")["VirtualMFADevices"] == [{"SerialNumber": serial("alice")}]


# -- EnableMFADevice --------------------------------------------------------------------


def test_enable_lists_and_gets(
    call: Call, clock: Clock, users: None, make_device: Callable[..., Device]
) -> None:
    device = make_device("alice")
    enable(call, "alice", device)
    expected = {"UserName": "alice", "SerialNumber": device.serial, "EnableDate": clock()}
    assert call("ListMFADevices", UserName="alice") == {
        "MFADevices": [expected],
        "IsTruncated": False,
    }
    assert call("GetMFADevice", UserName="alice", SerialNumber=device.serial) == expected
    [listed] = call("ListVirtualMFADevices", AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert listed["SerialNumber"] == device.serial
    assert listed["User"]["UserName"] == "alice"
    assert listed["EnableDate"] == clock()
    assert "Base32StringSeed" not in listed and "QRCodePNG" not in listed


def test_enable_accepts_the_current_and_next_code(
    call: Call, users: None, make_device: Callable[..., Device]
) -> None:
    device = make_device("alice")
    call(
        "EnableMFADevice",
        UserName="alice",
        SerialNumber=device.serial,
        AuthenticationCode1=device.code(0),
        AuthenticationCode2=device.code(1),
    )


@pytest.mark.parametrize(
    "codes",
    [
        lambda d: (d.code(-1), "000000" if d.code() != "000000" else "111111"),
        lambda d: (d.code(), d.code(-1)),  # swapped
        lambda d: (d.code(-2), d.code()),  # not consecutive
        lambda d: (d.code(-20), d.code(-19)),  # too old
        lambda d: (d.code(), d.code()),  # the same code twice
    ],
)
def test_enable_refuses_wrong_codes(
    call: Call,
    users: None,
    make_device: Callable[..., Device],
    codes: Callable[[Device], tuple[str, str]],
) -> None:
    device = make_device("alice")
    code1, code2 = codes(device)
    fails(
        "InvalidAuthenticationCode",
        INVALID_CODE,
        call,
        "EnableMFADevice",
        UserName="alice",
        SerialNumber=device.serial,
        AuthenticationCode1=code1,
        AuthenticationCode2=code2,
    )
    assert call("ListMFADevices", UserName="alice")["MFADevices"] == []


def test_enable_errors(call: Call, users: None, make_device: Callable[..., Device]) -> None:
    device = make_device("alice")
    fails(
        "NoSuchEntity",
        "The user with name carol cannot be found.",
        enable,
        call,
        "carol",
        device,
    )
    ghost = serial("ghost")
    fails(
        "NoSuchEntity",
        f"VirtualMFADevice with serial number {ghost} doesn't exist.",
        call,
        "EnableMFADevice",
        UserName="alice",
        SerialNumber=ghost,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    enable(call, "alice", device)
    for user in ("alice", "bob"):  # assigned already, to her or to anyone
        fails("EntityAlreadyExists", "MFA Device is already in use.", enable, call, user, device)


def test_at_most_eight_devices_per_user(
    call: Call, users: None, make_device: Callable[..., Device]
) -> None:
    for i in range(8):
        enable(call, "alice", make_device(f"alice-{i}"))
    ninth = make_device("alice-8")
    fails(
        "LimitExceeded",
        "Cannot exceed quota for MFADevicesPerUser: 8",
        enable,
        call,
        "alice",
        ninth,
    )
    enable(call, "bob", ninth)


def test_codes_are_never_accepted_twice(
    call: Call, clock: Clock, users: None, make_device: Callable[..., Device]
) -> None:
    device = make_device("alice")
    pair = device.pair()
    call("EnableMFADevice", UserName="alice", SerialNumber=device.serial, **pair)
    call("DeactivateMFADevice", UserName="alice", SerialNumber=device.serial)
    # Re-enabling with the same codes (a replay) fails, even for another user.
    for user in ("alice", "bob"):
        fails(
            "InvalidAuthenticationCode",
            INVALID_CODE,
            call,
            "EnableMFADevice",
            UserName=user,
            SerialNumber=device.serial,
            **pair,
        )
    clock.now += timedelta(seconds=60)
    enable(call, "alice", device)


# -- ResyncMFADevice --------------------------------------------------------------------


def test_resync(call: Call, clock: Clock, users: None, make_device: Callable[..., Device]) -> None:
    device = make_device("alice")
    enable(call, "alice", device)
    clock.now += timedelta(minutes=30)
    # A device running five minutes late: too far for enabling, fine for a resync.
    late = {"AuthenticationCode1": device.code(-11), "AuthenticationCode2": device.code(-10)}
    call("ResyncMFADevice", UserName="alice", SerialNumber=device.serial, **late)
    fails(
        "InvalidAuthenticationCode",
        INVALID_CODE,
        call,
        "ResyncMFADevice",
        UserName="alice",
        SerialNumber=device.serial,
        **late,
    )
    fails(
        "InvalidAuthenticationCode",
        INVALID_CODE,
        call,
        "ResyncMFADevice",
        UserName="alice",
        SerialNumber=device.serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="123457",
    )


def test_resync_needs_the_users_own_device(
    call: Call, users: None, make_device: Callable[..., Device]
) -> None:
    device = make_device("bob")
    enable(call, "bob", device)
    fails(
        "NoSuchEntity",
        "MFA Device invalid for user.",
        call,
        "ResyncMFADevice",
        UserName="alice",
        SerialNumber=device.serial,
        **device.pair(),
    )


# -- DeactivateMFADevice, DeleteVirtualMFADevice -----------------------------------------


def test_deactivate_then_delete(
    call: Call, users: None, make_device: Callable[..., Device]
) -> None:
    device = make_device("alice", Tags=[{"Key": "k", "Value": "v"}])
    enable(call, "alice", device)
    fails(
        "DeleteConflict",
        "MFA device is still in use.",
        call,
        "DeleteVirtualMFADevice",
        SerialNumber=device.serial,
    )
    fails(
        "DeleteConflict",
        "Cannot delete entity, must delete MFA device first.",
        call,
        "DeleteUser",
        UserName="alice",
    )
    call("DeactivateMFADevice", UserName="alice", SerialNumber=device.serial)
    assert call("ListMFADevices", UserName="alice")["MFADevices"] == []
    unassigned = call("ListVirtualMFADevices", AssignmentStatus="Unassigned")
    assert unassigned["VirtualMFADevices"] == [{"SerialNumber": device.serial}]
    fails(
        "NoSuchEntity",
        "MFA Device invalid for user.",
        call,
        "DeactivateMFADevice",
        UserName="alice",
        SerialNumber=device.serial,
    )
    call("DeleteVirtualMFADevice", SerialNumber=device.serial)
    assert call("ListVirtualMFADevices")["VirtualMFADevices"] == []
    missing = f"VirtualMFADevice with serial number {device.serial} doesn't exist."
    fails("NoSuchEntity", missing, call, "DeleteVirtualMFADevice", SerialNumber=device.serial)
    fails("NoSuchEntity", missing, call, "ListMFADeviceTags", SerialNumber=device.serial)
    # Its tags went with it: a new device of the same name starts untagged.
    again = make_device("alice")
    assert call("ListMFADeviceTags", SerialNumber=again.serial)["Tags"] == []


# -- listing, tags ------------------------------------------------------------------------


def test_list_virtual_devices_by_status_and_pages(
    call: Call, users: None, make_device: Callable[..., Device]
) -> None:
    devices = [make_device(f"d{i}") for i in range(5)]
    enable(call, "alice", devices[1])
    enable(call, "bob", devices[3])

    def serials(**params: Any) -> list[str]:
        out = call("ListVirtualMFADevices", **params)["VirtualMFADevices"]
        return [d["SerialNumber"] for d in out]

    every = [d.serial for d in devices]
    assert serials() == every  # AssignmentStatus defaults to Any
    assert serials(AssignmentStatus="Any") == every
    assert serials(AssignmentStatus="Assigned") == [every[1], every[3]]
    assert serials(AssignmentStatus="Unassigned") == [every[0], every[2], every[4]]
    first = call("ListVirtualMFADevices", MaxItems=2)
    assert first["IsTruncated"] is True
    rest = call("ListVirtualMFADevices", Marker=first["Marker"])
    got = [d["SerialNumber"] for d in first["VirtualMFADevices"] + rest["VirtualMFADevices"]]
    assert got == every and rest["IsTruncated"] is False


def test_list_mfa_devices_defaults_to_the_caller(
    call: Call, users: None, make_device: Callable[..., Device], caller_for: Callable[[str], Caller]
) -> None:
    device = make_device("alice")
    enable(call, "alice", device)
    mine = call("ListMFADevices", caller=caller_for("alice"))["MFADevices"]
    assert [d["SerialNumber"] for d in mine] == [device.serial]
    assert call("ListMFADevices", caller=caller_for("bob"))["MFADevices"] == []
    fails(
        "NoSuchEntity",
        "The user with name carol cannot be found.",
        call,
        "ListMFADevices",
        UserName="carol",
    )


def test_tag_and_untag(call: Call, make_device: Callable[..., Device]) -> None:
    device = make_device("d")
    call("TagMFADevice", SerialNumber=device.serial, Tags=[{"Key": "a", "Value": "1"}])
    call("TagMFADevice", SerialNumber=device.serial, Tags=[{"Key": "A", "Value": "2"}])
    assert call("ListMFADeviceTags", SerialNumber=device.serial)["Tags"] == [
        {"Key": "A", "Value": "2"}
    ]
    call("UntagMFADevice", SerialNumber=device.serial, TagKeys=["a", "absent"])
    assert call("ListMFADeviceTags", SerialNumber=device.serial)["Tags"] == []
    fails(
        "LimitExceeded",
        "Cannot exceed quota for TagsPerMFADevice: 50",
        call,
        "TagMFADevice",
        SerialNumber=device.serial,
        Tags=[{"Key": f"k{i}", "Value": ""} for i in range(51)],
    )
    ghost = serial("ghost")
    fails(
        "NoSuchEntity",
        f"VirtualMFADevice with serial number {ghost} doesn't exist.",
        call,
        "TagMFADevice",
        SerialNumber=ghost,
        Tags=[{"Key": "a", "Value": "1"}],
    )


# -- another user's device is untouchable ------------------------------------------------


def test_alice_manages_her_own_device(
    call: Call, users: None, caller_for: Callable[[str], Caller], make_device: Callable[..., Device]
) -> None:
    alice = caller_for("alice")
    device = make_device("alice", caller=alice)
    enable(call, "alice", device, caller=alice)
    mine = call("ListMFADevices", caller=alice)["MFADevices"]
    assert [d["SerialNumber"] for d in mine] == [device.serial]
    call("DeactivateMFADevice", SerialNumber=device.serial, caller=alice)
    call("DeleteVirtualMFADevice", SerialNumber=device.serial, caller=alice)


def test_alice_cannot_touch_bobs_device(
    call: Call, users: None, caller_for: Callable[[str], Caller], make_device: Callable[..., Device]
) -> None:
    alice, bob = caller_for("alice"), caller_for("bob")
    bobs = make_device("bob", caller=bob)
    enable(call, "bob", bobs, caller=bob)
    bob_arn = f"arn:aws:iam::{ACCOUNT}:user/bob"
    # On bob's user: refused before anything is looked at.
    for action, params in (
        ("DeactivateMFADevice", {"UserName": "bob", "SerialNumber": bobs.serial}),
        ("ResyncMFADevice", {"UserName": "bob", "SerialNumber": bobs.serial, **bobs.pair()}),
    ):
        fails(
            "AccessDenied",
            denied("alice", f"iam:{action}", bob_arn),
            call,
            action,
            caller=alice,
            **params,
        )
    # Naming herself does not reach bob's device either.
    fails(
        "NoSuchEntity",
        "MFA Device invalid for user.",
        call,
        "DeactivateMFADevice",
        UserName="alice",
        SerialNumber=bobs.serial,
        caller=alice,
    )
    fails(
        "AccessDenied",
        denied("alice", "iam:DeleteVirtualMFADevice", bobs.serial),
        call,
        "DeleteVirtualMFADevice",
        SerialNumber=bobs.serial,
        caller=alice,
    )
    # She cannot enable a device for bob, not even one she holds the seed of.
    alices = make_device("alice", caller=alice)
    fails(
        "AccessDenied",
        denied("alice", "iam:EnableMFADevice", bob_arn),
        enable,
        call,
        "bob",
        alices,
        caller=alice,
    )
    fails(
        "AccessDenied",
        None,
        call,
        "TagMFADevice",
        SerialNumber=bobs.serial,
        Tags=[{"Key": "a", "Value": "b"}],
        caller=alice,
    )
    # Bob's device is as it was.
    assert call("GetMFADevice", UserName="bob", SerialNumber=bobs.serial)["UserName"] == "bob"
    assert call("ListMFADevices", UserName="alice")["MFADevices"] == []
