"""Time-based one-time passwords (RFC 6238) for virtual MFA devices, as AWS uses them.

Codes are 6 digits over 30-second steps (HMAC-SHA1), what every authenticator
app produces. Pure functions: the clock is passed in.

* :func:`verify` accepts the current step and one step either side (clock
  drift), and never a step at or before the last one accepted, so a code
  cannot be replayed — not even within its own 30 seconds.
* :func:`two_consecutive` is what EnableMFADevice and ResyncMFADevice ask for:
  two codes from consecutive steps, the second within ``window`` steps of now.
* A device's QR code encodes ``otpauth://totp/AWS:{name}@{account}?secret=…``;
  segno renders it as PNG without an image library.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
from datetime import datetime
from urllib.parse import quote

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
#: Steps accepted either side of now when one code is checked (GetSessionToken).
DRIFT_STEPS = 1
#: How far from now the second of two consecutive codes may be, when enabling.
ENABLE_WINDOW_STEPS = 2
#: A resync is for a device whose clock has drifted: look further (±10 minutes).
RESYNC_WINDOW_STEPS = 20
#: 40 random bytes are 64 base32 characters, the length of AWS's seeds.
SEED_BYTES = 40
ISSUER = "AWS"


def new_seed() -> str:
    """A fresh seed, base32 (RFC 4648) without padding."""
    return base64.b32encode(secrets.token_bytes(SEED_BYTES)).decode("ascii").rstrip("=")


def time_step(now: datetime) -> int:
    """The TOTP step ``now`` falls in."""
    return int(now.timestamp()) // STEP_SECONDS


def code_at(seed: str, step: int) -> str:
    """The code a device with ``seed`` shows during ``step``."""
    return pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def _well_formed(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def _matches(seed: str, code: str, step: int) -> bool:
    return hmac.compare_digest(code_at(seed, step).encode(), code.encode())


def _fresh(step: int, last_used_step: int | None) -> bool:
    return step >= 0 and (last_used_step is None or step > last_used_step)


def verify(seed: str, code: str, now: datetime, last_used_step: int | None) -> int | None:
    """The step ``code`` belongs to (now ± one step, newer than ``last_used_step``), or None.

    The caller stores the returned step as the device's new last used step.
    """
    if not _well_formed(code):
        return None
    current = time_step(now)
    found: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if _fresh(step, last_used_step) and _matches(seed, code, step) and found is None:
            found = step
    return found


def two_consecutive(
    seed: str,
    code1: str,
    code2: str,
    now: datetime,
    *,
    window: int = ENABLE_WINDOW_STEPS,
    last_used_step: int | None = None,
) -> int | None:
    """The step of ``code2`` if ``code1`` and ``code2`` are codes of two consecutive
    steps, the second within ``window`` steps of now and both newer than
    ``last_used_step``; else None."""
    if not (_well_formed(code1) and _well_formed(code2)):
        return None
    current = time_step(now)
    found: int | None = None
    for step in range(current - window, current + window + 1):
        if not _fresh(step - 1, last_used_step):
            continue
        if _matches(seed, code1, step - 1) and _matches(seed, code2, step) and found is None:
            found = step
    return found


def provisioning_uri(seed: str, name: str, account: str) -> str:
    """``otpauth://totp/AWS:{name}@{account}?secret=…&issuer=AWS`` for authenticator apps.

    ``name`` is the device (or user) name, ``account`` the account alias or id.
    """
    label = quote(f"{ISSUER}:{name}@{account}", safe=":@")
    return (
        f"otpauth://totp/{label}?secret={seed}&issuer={ISSUER}"
        f"&digits={DIGITS}&period={STEP_SECONDS}"
    )


def qr_code_png(uri: str) -> bytes:
    """The QR code of ``uri`` as a PNG image."""
    out = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(out, kind="png", scale=4, border=4)
    return out.getvalue()
