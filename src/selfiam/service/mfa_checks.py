"""Every check of a TOTP code, throttled per MFA device in the database.

GetSessionToken, EnableMFADevice, ResyncMFADevice, the portal's MFA step (and
AssumeRole with SerialNumber/TokenCode) all call :func:`check_totp`. Failures are
counted per device in ``secret_throttles`` (:mod:`selfiam.service.throttle`), under
a lock on the device's row, so the limit holds across processes, nodes and
concurrent requests:

* after ``5`` failed checks the device is locked out and refuses every code, right
  or wrong, without checking it; the caller answers exactly as for a wrong code, so
  a locked device is no oracle, while the audit trail records the refusal as
  ``Throttling``;
* lockouts escalate: 15 minutes, then 30 min, 1 h, 2 h, 4 h, 8 h, 16 h, and 24 h
  from then on;
* a right code (accepted while not locked) clears the failures and the escalation;
  a device's count is otherwise kept for 30 days after its last failure or lockout.

The arithmetic. A code is 6 digits and one code is accepted for 3 steps (now and
one step either side, :data:`selfiam.domain.totp.DRIFT_STEPS`), so a guess is right
with probability at most 3/10^6. Within a code's lifetime (90 seconds) an attacker
gets at most 5 guesses: at most 1.5 x 10^-5. Guessing without pause, the lockouts
(15 min + 30 min + ... + 8 h = 15 h 45 min, then 16 h) allow 7 rounds of 5 = 35
guesses in the first 24 hours (at most 1.05 x 10^-4), then 5 guesses a day: about
1,855 guesses in a year, a chance of at most 0.56 % — and every one of them is in
the audit trail. Pausing to let the count be forgotten (30 days) only slows the
attacker down. Two consecutive codes (EnableMFADevice, ResyncMFADevice) are far
harder to guess (at most 41/10^12 a guess for a resync's +-20 steps) and share the
same count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, or_, select
from sqlalchemy.engine import Connection

from selfiam.auth.secretbox import SecretBox
from selfiam.domain import totp
from selfiam.service import throttle
from selfiam.service.context import OperationContext
from selfiam.store import tables as t

MFA = throttle.Limits(
    max_failures=5,
    first_lockout=timedelta(minutes=15),
    max_lockout=timedelta(hours=24),
    forget_after=timedelta(days=30),
)


class MfaRefused(Exception):
    """A code was not accepted. ``unknown``: no such device (for this user); ``locked``:
    every device was locked out and no code was checked. Callers answer with their
    operation's error for a wrong code whatever the reason, except ``unknown`` where
    AWS says so."""

    def __init__(self, *, locked: bool = False, unknown: bool = False) -> None:
        super().__init__("locked" if locked else "unknown" if unknown else "invalid")
        self.locked = locked
        self.unknown = unknown


def device_subject(serial: str) -> throttle.Subject:
    return ("mfa", serial)


def check_totp(
    ctx_or_conn: OperationContext | Connection,
    box: SecretBox,
    user_id: str | None,
    serial: str | None,
    code: str,
    now: datetime,
    *,
    second_code: str | None = None,
    window: int = totp.ENABLE_WINDOW_STEPS,
) -> int:
    """Accept ``code`` (and ``second_code``, the next step's, when given) once; return
    the step it claimed as the device's last used step. Raise :class:`MfaRefused`.

    ``serial`` names the device; with ``user_id`` it must be that user's. With
    ``serial`` None, any of ``user_id``'s devices may accept the code (the portal),
    and a wrong code counts as a failure on each device it was checked against.
    ``window`` is how far from now two consecutive codes may be.

    Call it before the operation writes anything: given an OperationContext, a
    refusal that counted a failure marks it to commit (``commit_on_error``), and a
    refusal by a lockout marks its audit record ``Throttling``. Given a connection,
    the caller commits it whatever the outcome.
    """
    conn = ctx_or_conn.conn if isinstance(ctx_or_conn, OperationContext) else ctx_or_conn
    devices = _devices(conn, user_id, serial)
    if not devices:
        raise MfaRefused(unknown=True)
    open_devices: list[tuple[Row[Any], throttle.State]] = []
    for device in devices:
        state = throttle.load(conn, device_subject(device.serial_number), now)
        admitted = throttle.admit(state, MFA, now)
        if admitted is not None:
            open_devices.append((device, admitted))
    if not open_devices:
        throttle.prune(conn, now, ["mfa"])
        if isinstance(ctx_or_conn, OperationContext):
            ctx_or_conn.audit_error_code = throttle.THROTTLED_CODE
        raise MfaRefused(locked=True)
    for device, admitted in open_devices:
        step = _verify(box, device, code, second_code, now, window)
        if step is not None and _claim(conn, device.serial_number, step):
            ok = throttle.record(admitted, MFA, now, True, forgive=True)
            throttle.store(conn, device_subject(device.serial_number), ok, MFA, now)
            throttle.prune(conn, now, ["mfa"])
            return step
    for device, admitted in open_devices:
        failed = throttle.record(admitted, MFA, now, False, forgive=True)
        throttle.store(conn, device_subject(device.serial_number), failed, MFA, now)
    throttle.prune(conn, now, ["mfa"])
    if isinstance(ctx_or_conn, OperationContext):
        ctx_or_conn.commit_on_error = True
    raise MfaRefused()


def _devices(conn: Connection, user_id: str | None, serial: str | None) -> Sequence[Row[Any]]:
    """The devices the code may come from, locked in serial order: a device's row is
    always locked before its throttle row (as EnableMFADevice, ResyncMFADevice and
    DeleteVirtualMFADevice do), so no two checks can deadlock on PostgreSQL."""
    m = t.mfa_devices
    query = select(m)
    if serial is not None:
        query = query.where(m.c.serial_number == serial)
    if user_id is not None:
        query = query.where(m.c.user_id == user_id)
    elif serial is None:
        return []
    return conn.execute(query.order_by(m.c.serial_number).with_for_update()).all()


def _verify(
    box: SecretBox,
    device: Row[Any],
    code: str,
    second_code: str | None,
    now: datetime,
    window: int,
) -> int | None:
    seed = box.open(device.seed_ciphertext, device.serial_number.encode()).decode()
    if second_code is None:
        return totp.verify(seed, code, now, device.last_used_step)
    return totp.two_consecutive(
        seed, code, second_code, now, window=window, last_used_step=device.last_used_step
    )


def _claim(conn: Connection, serial: str, step: int) -> bool:
    """Record ``step`` as the device's last used one, unless a newer one got there
    first (a conditional UPDATE: two requests racing with one code cannot both win)."""
    m = t.mfa_devices
    claimed = conn.execute(
        m.update()
        .where(
            m.c.serial_number == serial,
            or_(m.c.last_used_step.is_(None), m.c.last_used_step < step),
        )
        .values(last_used_step=step)
    ).rowcount
    return bool(claimed == 1)


def forget_device(conn: Connection, serial: str) -> None:
    """The device is deleted: its count goes with it (a new device may take its name)."""
    throttle.forget(conn, device_subject(serial))
