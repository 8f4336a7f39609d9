"""Virtual MFA devices: create, enable for a user, resync, deactivate, delete, list, tag.

A device's serial number is its ARN, ``arn:aws:iam::ACCOUNT:mfa/PATH/NAME``;
its seed is sealed at rest with the serial number as associated data and is
shown once, by CreateVirtualMFADevice. Authorization follows AWS: creating,
deleting and tagging a device is authorized on the device's ARN; enabling,
deactivating, resyncing, getting and listing a user's devices on the user's ARN.

A device is assigned to at most one user. Every accepted code's TOTP step is
remembered (``last_used_step``, kept across deactivation), so no code is
accepted twice — by EnableMFADevice, ResyncMFADevice or GetSessionToken — and
every check is counted per device (:mod:`selfiam.service.mfa_checks`): a device
that failed too often refuses every code for a while.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, func, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from selfiam.domain import totp
from selfiam.domain.arns import mfa_arn
from selfiam.domain.errors import (
    AwsError,
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    LimitExceeded,
    NoSuchEntity,
    ValidationError,
)
from selfiam.service.context import OperationContext
from selfiam.service.lookup import no_such_user, target_user_name, user_shape
from selfiam.service.mfa_checks import MfaRefused, check_totp, forget_device
from selfiam.service.operations import tags as tagging
from selfiam.service.operations.users import authorize_user
from selfiam.service.pagination import page_after
from selfiam.service.passkeys import forget_passkey, is_passkey_serial
from selfiam.service.registry import operation
from selfiam.store import tables as t
from selfiam.store.locks import lock_row, lock_user_row
from selfiam.store.owned import delete_owned

MFA_DEVICES_PER_USER = 8
TAGS_QUOTA = "TagsPerMFADevice"
INVALID_CODE = "Authentication code for device is not valid."
IN_USE = "MFA Device is already in use."
MAX_NAME = 128  # the stored name's size (botocore sets no maximum)
MAX_SERIAL = 256  # SerialNumber's maximum in botocore's model


def no_such_device(serial: str) -> AwsError:
    return NoSuchEntity(f"VirtualMFADevice with serial number {serial} doesn't exist.")


def devices_of_user(conn: Connection, user_id: str) -> int:
    """How many MFA devices a user has: virtual ones and passkeys (one quota for both)."""
    m, p = t.mfa_devices, t.passkeys
    virtual = select(func.count()).select_from(m).where(m.c.user_id == user_id)
    passkeys = select(func.count()).select_from(p).where(p.c.user_id == user_id)
    return int(conn.execute(virtual).scalar_one()) + int(conn.execute(passkeys).scalar_one())


def check_device_quota(conn: Connection, user_id: str) -> None:
    """LimitExceeded if the user has as many MFA devices as AWS allows (lock the user first)."""
    if devices_of_user(conn, user_id) >= MFA_DEVICES_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for MFADevicesPerUser: {MFA_DEVICES_PER_USER}")


def _passkey(ctx: OperationContext, user: Row[Any], serial: str) -> Row[Any]:
    p = t.passkeys
    row = ctx.conn.execute(
        select(p).where(p.c.serial_number == serial, p.c.account_id == ctx.account_id)
    ).first()
    if row is None:
        raise no_such_device(serial)
    if row.user_id != user.user_id:
        raise NoSuchEntity("MFA Device invalid for user.")
    return row


def _device(ctx: OperationContext, serial: str) -> Row[Any] | None:
    m = t.mfa_devices
    return ctx.conn.execute(
        select(m).where(m.c.serial_number == serial, m.c.account_id == ctx.account_id)
    ).first()


def _authorize_device(
    ctx: OperationContext,
    serial: str,
    *,
    request_tags: Mapping[str, str] | None = None,
    extra_context: Mapping[str, Any] | None = None,
) -> Row[Any]:
    """Authorize on the device's ARN (its serial number) with its tags, then return its row.

    An unknown serial number is authorized as given and then not found, so
    whether a device exists shows only to whoever may act on it.
    """
    row = _device(ctx, serial)
    tags = tagging.load_tags(ctx.conn, "mfa", serial) if row is not None else None
    ctx.authorize(
        serial, resource_tags=tags, request_tags=request_tags, extra_context=extra_context
    )
    if row is None:
        raise no_such_device(serial)
    return row


def _users_device(ctx: OperationContext, user: Row[Any], serial: str) -> Row[Any]:
    """The device ``serial`` if it is assigned to ``user``; NoSuchEntity otherwise
    (someone else's device, like an unknown one, is simply not this user's)."""
    row = _device(ctx, serial)
    if row is None:
        raise no_such_device(serial)
    if row.user_id != user.user_id:
        raise NoSuchEntity("MFA Device invalid for user.")
    return row


def _check_codes(
    ctx: OperationContext,
    user_id: str | None,
    serial: str,
    params: Mapping[str, Any],
    window: int,
) -> None:
    """Two consecutive codes from the device, checked (and counted) by check_totp, which
    also records the second one's step as the device's last used step."""
    try:
        check_totp(
            ctx,
            ctx.runtime.box,
            user_id,
            serial,
            str(params["AuthenticationCode1"]),
            ctx.info.now,
            second_code=str(params["AuthenticationCode2"]),
            window=window,
        )
    except MfaRefused:
        raise InvalidAuthenticationCode(INVALID_CODE) from None


def _account_label(ctx: OperationContext) -> str:
    alias = ctx.conn.execute(
        select(t.accounts.c.alias).where(t.accounts.c.account_id == ctx.account_id)
    ).scalar_one_or_none()
    return str(alias or ctx.account_id)


@operation("CreateVirtualMFADevice")
def create_virtual_mfa_device(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    name = str(params["VirtualMFADeviceName"])
    path = str(params.get("Path") or "/")
    tags = tagging.request_tags(params.get("Tags"))
    serial = mfa_arn(ctx.account_id, name, path)
    tagging.authorize_create(ctx, serial, tags, "iam:TagMFADevice")
    if len(name) > MAX_NAME:
        raise ValidationError(
            "1 validation error detected: Value at 'virtualMFADeviceName' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_NAME}"
        )
    if len(serial) > MAX_SERIAL:
        raise ValidationError(
            f"The serial number of the device (path and name) must be at most {MAX_SERIAL} "
            "characters long."
        )
    seed = totp.new_seed()
    try:
        ctx.conn.execute(
            t.mfa_devices.insert().values(
                serial_number=serial,
                account_id=ctx.account_id,
                name=name,
                name_lower=name.lower(),
                path=path,
                seed_ciphertext=ctx.runtime.box.seal(seed.encode(), serial.encode()),
                created_at=ctx.info.now,
            )
        )
    except IntegrityError:
        raise EntityAlreadyExists(
            "MFADevice entity at the same path and name already exists."
        ) from None
    tagging.put_tags(ctx.conn, "mfa", serial, tags, TAGS_QUOTA)
    uri = totp.provisioning_uri(seed, name, _account_label(ctx))
    device: dict[str, Any] = {
        "SerialNumber": serial,
        "Base32StringSeed": seed.encode("ascii"),
        "QRCodePNG": totp.qr_code_png(uri),
    }
    if tags:
        device["Tags"] = tagging.tag_list(tags)
    return {"VirtualMFADevice": device}


@operation("EnableMFADevice")
def enable_mfa_device(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Assign a device to a user, proven by two consecutive codes from it."""
    name = str(params["UserName"])
    serial = str(params["SerialNumber"])
    user = authorize_user(ctx, name)
    if not lock_user_row(ctx.conn, user.user_id):  # deleted since it was read
        raise no_such_user(name)
    m = t.mfa_devices
    if not lock_row(ctx.conn, m, m.c.serial_number, serial):
        raise no_such_device(serial)
    device = _device(ctx, serial)
    if device is None:
        raise no_such_device(serial)
    if device.user_id is not None:
        raise EntityAlreadyExists(IN_USE)
    check_device_quota(ctx.conn, user.user_id)
    _check_codes(ctx, None, serial, params, totp.ENABLE_WINDOW_STEPS)
    ctx.conn.execute(
        m.update()
        .where(m.c.serial_number == serial)
        .values(user_id=user.user_id, enabled_at=ctx.info.now)
    )
    ctx.changed_credentials(user_id=user.user_id)
    return {}


@operation("ResyncMFADevice")
def resync_mfa_device(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Accept two consecutive codes from further away in time than enabling does."""
    user = authorize_user(ctx, str(params["UserName"]))
    serial = str(params["SerialNumber"])
    m = t.mfa_devices
    lock_row(ctx.conn, m, m.c.serial_number, serial)
    _users_device(ctx, user, serial)
    _check_codes(ctx, user.user_id, serial, params, totp.RESYNC_WINDOW_STEPS)
    return {}


@operation("DeactivateMFADevice")
def deactivate_mfa_device(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Unassign a device from its user. The device remains (DeleteVirtualMFADevice removes it),
    and so does its last used step: re-enabling it never makes an old code valid again.
    A passkey or security key (a ``u2f`` serial) is removed outright, as AWS does."""
    user = authorize_user(ctx, target_user_name(ctx, params))
    serial = str(params["SerialNumber"])
    if is_passkey_serial(serial):
        passkey = _passkey(ctx, user, serial)
        p = t.passkeys
        ctx.conn.execute(p.delete().where(p.c.serial_number == passkey.serial_number))
        forget_passkey(ctx.conn, passkey.serial_number)
        ctx.changed_credentials(user_id=user.user_id)
        return {}
    device = _users_device(ctx, user, serial)
    m = t.mfa_devices
    ctx.conn.execute(
        m.update()
        .where(m.c.serial_number == device.serial_number, m.c.user_id == user.user_id)
        .values(user_id=None, enabled_at=None)
    )
    ctx.changed_credentials(user_id=user.user_id)
    return {}


@operation("DeleteVirtualMFADevice")
def delete_virtual_mfa_device(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    serial = str(params["SerialNumber"])
    device = _authorize_device(ctx, serial)
    m = t.mfa_devices
    deleted = ctx.conn.execute(
        m.delete().where(m.c.serial_number == device.serial_number, m.c.user_id.is_(None))
    ).rowcount
    if deleted != 1:
        raise DeleteConflict("MFA device is still in use.")
    delete_owned(ctx.conn, "mfa", serial)
    forget_device(ctx.conn, serial)
    return {}


def _mfa_device_shape(row: Row[Any], user_name: str) -> dict[str, Any]:
    return {"UserName": user_name, "SerialNumber": row.serial_number, "EnableDate": row.enabled_at}


@operation("ListMFADevices", writes=False)
def list_mfa_devices(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Virtual devices and passkeys, in one list ordered by serial number."""
    user = authorize_user(ctx, target_user_name(ctx, params))
    m, p = t.mfa_devices, t.passkeys
    both = union_all(
        select(m.c.serial_number, m.c.enabled_at).where(m.c.user_id == user.user_id),
        select(p.c.serial_number, p.c.enabled_at).where(p.c.user_id == user.user_id),
    ).subquery()
    page, more = page_after(ctx.conn, select(both), both.c.serial_number, params)
    return {"MFADevices": [_mfa_device_shape(r, user.name) for r in page], **more}


@operation("GetMFADevice", writes=False)
def get_mfa_device(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    user = authorize_user(ctx, target_user_name(ctx, params))
    serial = str(params["SerialNumber"])
    if is_passkey_serial(serial):
        return _mfa_device_shape(_passkey(ctx, user, serial), user.name)
    device = _users_device(ctx, user, serial)
    return _mfa_device_shape(device, user.name)


@operation("ListVirtualMFADevices", writes=False)
def list_virtual_mfa_devices(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every virtual device of the account (AssignmentStatus defaults to Any), each with its
    user when assigned. Neither seeds nor QR codes are ever listed."""
    ctx.authorize("*")
    m, u = t.mfa_devices, t.users
    query = (
        select(
            m.c.serial_number,
            m.c.enabled_at,
            u.c.user_id,
            u.c.name,
            u.c.path,
            u.c.created_at,
            u.c.password_last_used,
            u.c.permissions_boundary_arn,
        )
        .select_from(m.outerjoin(u, u.c.user_id == m.c.user_id))
        .where(m.c.account_id == ctx.account_id)
    )
    status = params.get("AssignmentStatus") or "Any"
    if status == "Assigned":
        query = query.where(m.c.user_id.is_not(None))
    elif status == "Unassigned":
        query = query.where(m.c.user_id.is_(None))
    page, more = page_after(ctx.conn, query, m.c.serial_number, params)
    devices = []
    for row in page:
        device: dict[str, Any] = {"SerialNumber": row.serial_number}
        if row.user_id is not None:
            device["User"] = user_shape(row, ctx.account_id)
            device["EnableDate"] = row.enabled_at
        devices.append(device)
    return {"VirtualMFADevices": devices, **more}


@operation("TagMFADevice", light=True)
def tag_mfa_device(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    tags = tagging.request_tags(params["Tags"])
    serial = str(params["SerialNumber"])
    _authorize_device(ctx, serial, request_tags=tags)
    m = t.mfa_devices
    if not lock_row(ctx.conn, m, m.c.serial_number, serial):
        raise no_such_device(serial)
    tagging.put_tags(ctx.conn, "mfa", serial, tags, TAGS_QUOTA)
    return {}


@operation("UntagMFADevice", light=True)
def untag_mfa_device(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    keys = [str(k) for k in params["TagKeys"]]
    serial = str(params["SerialNumber"])
    _authorize_device(ctx, serial, extra_context={"aws:TagKeys": keys})
    tagging.remove_tags(ctx.conn, "mfa", serial, keys)
    return {}


@operation("ListMFADeviceTags", writes=False)
def list_mfa_device_tags(ctx: OperationContext, params: Mapping[str, Any]) -> dict[str, Any]:
    serial = str(params["SerialNumber"])
    _authorize_device(ctx, serial)
    return tagging.list_tags_page(ctx.conn, "mfa", serial, params)
