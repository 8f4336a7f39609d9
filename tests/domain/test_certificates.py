"""Signing certificates: what UploadSigningCertificate accepts, refuses, and how it says so.

``make_certificate`` is shared with the service and integration tests.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from selfiam.domain.certificates import parse_signing_certificate
from selfiam.domain.errors import AwsError

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | dsa.DSAPrivateKey
_RSA_2048: list[rsa.RSAPrivateKey] = []


def rsa_2048() -> rsa.RSAPrivateKey:
    """One RSA key per test run: generating 2048-bit keys is the slow part."""
    if not _RSA_2048:
        _RSA_2048.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _RSA_2048[0]


def make_certificate(
    *,
    key: PrivateKey | ed25519.Ed25519PrivateKey | None = None,
    common_name: str = "selfiam test",
    not_before: datetime | None = None,
    days: int = 365,
) -> str:
    """A self-signed certificate, PEM. A fresh serial number makes every call unique."""
    signer = key if key is not None else rsa_2048()
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
    )
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(signer, algorithm)
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def failure(body: str, now: datetime = NOW) -> AwsError:
    with pytest.raises(AwsError) as info:
        parse_signing_certificate(body, now)
    return info.value


def test_a_self_signed_rsa_certificate_is_accepted() -> None:
    body = make_certificate(not_before=NOW - timedelta(days=1))
    parsed = parse_signing_certificate(body, NOW)
    der = x509.load_pem_x509_certificate(body.encode()).public_bytes(serialization.Encoding.DER)
    assert parsed.der == der
    assert parsed.fingerprint_sha256 == hashlib.sha256(der).hexdigest()
    assert len(parsed.fingerprint_sha256) == 64
    assert parsed.not_after == NOW + timedelta(days=364)


def test_an_ecdsa_certificate_is_accepted() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    parse_signing_certificate(make_certificate(key=key, not_before=NOW), NOW)


def test_the_fingerprint_ignores_the_pem_wrapping() -> None:
    body = make_certificate(not_before=NOW)
    rewrapped = "\r\n" + body.replace("\n", "\r\n") + "\n\n"
    assert (
        parse_signing_certificate(rewrapped, NOW).fingerprint_sha256
        == parse_signing_certificate(body, NOW).fingerprint_sha256
    )


@pytest.mark.parametrize(
    "body",
    [
        "invalid-certificate-body",
        "-----BEGIN CERTIFICATE-----\nZm9v\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nZm9v\n-----END PUBLIC KEY-----\n",
    ],
)
def test_unparsable_bodies_are_malformed_in_awss_words(body: str) -> None:
    err = failure(body)
    assert (err.code, err.status) == ("MalformedCertificate", 400)
    assert err.message == f"Certificate {body} is malformed."


def test_two_certificates_in_one_body_are_malformed() -> None:
    body = make_certificate(not_before=NOW) + make_certificate(not_before=NOW)
    assert failure(body).code == "MalformedCertificate"


def test_text_around_the_certificate_is_malformed() -> None:
    body = "Certificate:\n    Data: ...\n" + make_certificate(not_before=NOW)
    assert failure(body).code == "MalformedCertificate"


def test_a_pasted_private_key_is_refused_and_not_echoed() -> None:
    key_pem = (
        rsa_2048()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    err = failure(make_certificate(not_before=NOW) + key_pem)
    assert err.code == "MalformedCertificate"
    assert "private key" in err.message
    assert key_pem.splitlines()[1] not in err.message


def test_an_expired_certificate_is_refused() -> None:
    body = make_certificate(not_before=NOW - timedelta(days=30), days=10)
    err = failure(body)
    assert err.code == "MalformedCertificate"
    assert err.message == "The certificate expired on 2026-11-07T12:00:00Z."


def test_a_certificate_expiring_later_is_accepted_until_then() -> None:
    body = make_certificate(not_before=NOW, days=1)
    parse_signing_certificate(body, NOW + timedelta(hours=23))
    assert failure(body, NOW + timedelta(days=1)).code == "MalformedCertificate"


def test_an_ed25519_certificate_is_invalid() -> None:
    body = make_certificate(key=ed25519.Ed25519PrivateKey.generate(), not_before=NOW)
    err = failure(body)
    assert (err.code, err.status) == ("InvalidCertificate", 400)


def test_a_dsa_certificate_is_invalid() -> None:
    body = make_certificate(key=dsa.generate_private_key(1024), not_before=NOW)
    assert failure(body).code == "InvalidCertificate"


#: A throwaway 768-bit key (cryptography will not generate one under 1024 bits).
WEAK_RSA_768 = b"""-----BEGIN PRIVATE KEY-----
MIIB4wIBADANBgkqhkiG9w0BAQEFAASCAc0wggHJAgEAAmEAo5Yuk7Rt5pP26wK1
DG+s0tZ3hNafDH5bAfcmheNsDhFOaif2jjZ+J5pASLbr6BqHoyi1Zb39ZZDK3CRK
6B6Tw2zhDpMiewUjPKCpnwBystYxg0cahvT14OKhE+yyLUd1AgMBAAECYAH4z3rs
U97RrcpLcA9EUVsBRtONGsG1zDcL2aUHhsfsoXtaG/i+42pqy5eUzOcxWqhHynFe
dF4tqNk09vX/Whq/aW9vyQi86FmLEZpp+s+StsZfZYZu/uJPGwO1YX6TiQIxAM4C
mr/fQMBFXtNobSBaBNN5GDjVv5RuLhN6H1e8/gnmucXV2+z4El8fAx7vxeLOowIx
AMtIOBWzZj481L7pLdVGyy2tuvMoK6SAkdrrMQINRDJ8pBtcidYXrpaButuVfC7r
BwIwbDfsCN0DS71lOdMCeFsxa9GSCtEmKZfTdoHRkyqBnLvqXOWh+RK7u+Izpn24
SxPXAjAqaF6K6GokAbzANxUAsUwhs2SU5YR1RP0olnga3XmkrqvtqVh3+WjKrTW2
KXFGuHECMGRQRRVSeZds4+VSrkavfm//nZ4WZp6qsYRGKG6Tgv3uP7yxmD/AT8oT
90w7dwva6g==
-----END PRIVATE KEY-----
"""


def test_a_short_rsa_key_is_invalid() -> None:
    weak = serialization.load_pem_private_key(WEAK_RSA_768, password=None)
    assert isinstance(weak, rsa.RSAPrivateKey)
    err = failure(make_certificate(key=weak, not_before=NOW))
    assert err.code == "InvalidCertificate"
    assert "768 bits" in err.message
