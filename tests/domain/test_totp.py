"""TOTP for virtual MFA devices: RFC 6238 vectors, drift, replay, consecutive codes, QR."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from selfiam.domain import totp

# RFC 6238 appendix B (SHA-1): the seed is the ASCII "12345678901234567890". The RFC
# prints 8 digits; a 6-digit code is the same number modulo 10**6.
RFC_SEED = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]

NOW = datetime(2026, 11, 27, 12, 0, 10, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(("unix", "eight_digits"), RFC_VECTORS)
def test_rfc6238_vectors(unix: int, eight_digits: str) -> None:
    moment = datetime.fromtimestamp(unix, UTC)
    step = totp.time_step(moment)
    assert step == unix // 30
    assert totp.code_at(RFC_SEED, step) == eight_digits[-6:]
    assert totp.verify(RFC_SEED, eight_digits[-6:], moment, None) == step


def test_new_seeds_are_base32_and_distinct() -> None:
    seeds = {totp.new_seed() for _ in range(20)}
    assert len(seeds) == 20
    for seed in seeds:
        assert len(seed) == 64
        assert len(base64.b32decode(seed)) == totp.SEED_BYTES


def test_codes_agree_with_what_an_authenticator_app_shows() -> None:
    seed = totp.new_seed()
    assert totp.code_at(seed, totp.time_step(NOW)) == pyotp.TOTP(seed).at(NOW)


def test_drift_of_one_step_either_side_is_accepted() -> None:
    seed = totp.new_seed()
    step = totp.time_step(NOW)
    for offset in (-1, 0, 1):
        code = totp.code_at(seed, step + offset)
        assert totp.verify(seed, code, NOW, None) == step + offset
    for offset in (-3, -2, 2, 3):
        assert totp.verify(seed, totp.code_at(seed, step + offset), NOW, None) is None


def test_a_used_step_is_never_accepted_again() -> None:
    seed = totp.new_seed()
    code = pyotp.TOTP(seed).at(NOW)
    used = totp.verify(seed, code, NOW, None)
    assert used is not None
    assert totp.verify(seed, code, NOW, used) is None
    assert totp.verify(seed, code, at(5), used) is None
    # An older code (previous step) is refused too once a newer one was used.
    previous = totp.code_at(seed, used - 1)
    assert totp.verify(seed, previous, NOW, used) is None
    # The next step's code is fine.
    assert totp.verify(seed, totp.code_at(seed, used + 1), at(30), used) == used + 1


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "12345a", "１２３４５６", " 12345"])
def test_malformed_codes_are_refused(bad: str) -> None:
    assert totp.verify(totp.new_seed(), bad, NOW, None) is None


def test_a_wrong_code_is_refused() -> None:
    seed = totp.new_seed()
    good = totp.code_at(seed, totp.time_step(NOW))
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    assert totp.verify(seed, wrong, NOW, None) is None


def test_two_consecutive_codes() -> None:
    seed = totp.new_seed()
    app = pyotp.TOTP(seed)
    step = totp.time_step(NOW)
    # Typed as the app shows them: the previous code, then the current one.
    assert totp.two_consecutive(seed, app.at(at(-30)), app.at(NOW), NOW) == step
    # The current and the next (a device slightly ahead).
    assert totp.two_consecutive(seed, app.at(NOW), app.at(at(30)), NOW) == step + 1
    # Not consecutive, or swapped, or the same code twice: refused.
    assert totp.two_consecutive(seed, app.at(at(-60)), app.at(NOW), NOW) is None
    assert totp.two_consecutive(seed, app.at(NOW), app.at(at(-30)), NOW) is None
    assert totp.two_consecutive(seed, app.at(NOW), app.at(NOW), NOW) is None


def test_two_consecutive_codes_must_be_recent() -> None:
    seed = totp.new_seed()
    app = pyotp.TOTP(seed)
    old1, old2 = app.at(at(-300)), app.at(at(-270))
    assert totp.two_consecutive(seed, old1, old2, NOW) is None
    # A resync looks further: it exists for devices whose clock drifted.
    assert totp.two_consecutive(
        seed, old1, old2, NOW, window=totp.RESYNC_WINDOW_STEPS
    ) == totp.time_step(at(-270))


def test_two_consecutive_codes_refuse_used_steps() -> None:
    seed = totp.new_seed()
    app = pyotp.TOTP(seed)
    step = totp.time_step(NOW)
    code1, code2 = app.at(at(-30)), app.at(NOW)
    assert totp.two_consecutive(seed, code1, code2, NOW, last_used_step=step - 2) == step
    assert totp.two_consecutive(seed, code1, code2, NOW, last_used_step=step - 1) is None
    assert totp.two_consecutive(seed, code1, code2, NOW, last_used_step=step) is None


def test_provisioning_uri_is_what_authenticator_apps_read() -> None:
    seed = totp.new_seed()
    uri = totp.provisioning_uri(seed, "alice", "example-corp")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "otpauth",
        "totp",
        "/AWS:alice@example-corp",
    )
    query = parse_qs(parts.query)
    assert query["secret"] == [seed]
    assert query["issuer"] == ["AWS"]
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.now() == pyotp.TOTP(seed).now()


def test_qr_code_is_a_png() -> None:
    png = totp.qr_code_png(totp.provisioning_uri(totp.new_seed(), "alice", "123456789012"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"IHDR" in png[:32] and png.endswith(b"IEND\xaeB`\x82")
