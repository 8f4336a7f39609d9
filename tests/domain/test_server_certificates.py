"""Server certificates: what UploadServerCertificate accepts and refuses, in AWS's words
(IAM API reference: MalformedCertificate, KeyPairMismatch; IAM User Guide, "Managing
server certificates in IAM": RSA 1024-4096 bits or ECDSA, unencrypted PEM keys)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from selfiam.domain.errors import AwsError
from selfiam.domain.server_certificates import (
    BODY_MALFORMED,
    EXPIRED,
    KEY_MALFORMED,
    MISMATCH,
    parse_server_certificate,
)
from support.server_certs import (
    NOT_AFTER,
    certificate,
    ec_key,
    key_pem,
    rsa_key,
    upload,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
#: A 512-bit RSA key (cryptography will not generate one that small), for the size check.
RSA_512 = """-----BEGIN PRIVATE KEY-----
MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEA3g920SgFVbqkzQmB
Y9ovEqn/UQ8OdANcr9+LoWOCYohoKT6s6t3gUqhPD0SDcrYBW1iBomkWG4XxDzuS
4YREWwIDAQABAkBktEylE+o/c7JzTeFBAFyisTeZciOS10d8dvuiyDcEKZIYNr/l
lHKQ9KB3I5G84GnPRROQazgSlLa0uuSXo8/xAiEA8CWlnb7ICakb8c2CmF+AiNmt
FRAm+OmpIcWUmJx6AnMCIQDsuCmpJKhVqfowy9tAXr0ilOMeujfGEB3u9s/JCg90
eQIhAIu4O52FzHjibSHIQf1JQ01b6Hnixen4eLDvdb88+zfFAiEA3mTq5vkEmW6X
Gi77ro8TPCEK+/xRl+feZ3pDnomwGWkCIQCDo7KsSvtmf6hYqdNkp9nOACxBnJQ4
jBk+lUsrDoB+6A==
-----END PRIVATE KEY-----
"""


def chain_message(index: int) -> str:
    return (
        "Unable to validate certificate chain. The certificate chain must start with the "
        "immediate signing certificate, followed by any intermediaries in order. The index "
        f"within the chain of the invalid certificate is: {index}"
    )


def failure(body: str, key: str, chain: str | None = None, now: datetime = NOW) -> AwsError:
    with pytest.raises(AwsError) as info:
        parse_server_certificate(body, key, chain, now)
    return info.value


def test_a_leaf_with_its_key_and_chain_is_accepted() -> None:
    up = upload()
    parsed = parse_server_certificate(up.body, up.private_key, up.chain, NOW)
    assert parsed.not_after == NOT_AFTER


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(lambda: rsa_key(1024), id="rsa-1024"),
        pytest.param(lambda: rsa_key(4096), id="rsa-4096"),
        pytest.param(lambda: ec_key("secp256r1"), id="p-256"),
        pytest.param(lambda: ec_key("secp384r1"), id="p-384"),
    ],
)
def test_accepted_key_types_and_sizes(key) -> None:  # type: ignore[no-untyped-def]
    k = key()
    body = certificate(k, "self")
    for fmt in ("pkcs8", "traditional"):
        parse_server_certificate(body, key_pem(k, fmt), None, NOW)


def test_refused_key_types_and_sizes() -> None:
    small = serialization.load_pem_private_key(RSA_512.encode(), password=None)
    assert isinstance(small, rsa.RSAPrivateKey)
    err = failure(certificate(small, "small"), RSA_512)
    assert err.code == "MalformedCertificate" and "512 bits" in err.message
    p521 = ec_key("secp521r1")
    assert failure(certificate(p521, "p521"), key_pem(p521)).code == "MalformedCertificate"
    edk = ed25519.Ed25519PrivateKey.generate()
    ed_pem = edk.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    err = failure(certificate(rsa_key(), "x"), ed_pem)
    assert err.code == "MalformedCertificate"


GOOD = upload()


@pytest.mark.parametrize(
    ("body", "key", "chain", "code", "message"),
    [
        ("not a certificate", GOOD.private_key, None, "MalformedCertificate", BODY_MALFORMED),
        (GOOD.body + GOOD.body, GOOD.private_key, None, "MalformedCertificate", BODY_MALFORMED),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            GOOD.private_key,
            None,
            "MalformedCertificate",
            BODY_MALFORMED,
        ),
        (GOOD.body, "not a key", None, "MalformedCertificate", KEY_MALFORMED),
        (GOOD.body, GOOD.body, None, "MalformedCertificate", KEY_MALFORMED),
        (GOOD.body, key_pem(rsa_key(2048, 7)), None, "KeyPairMismatch", MISMATCH),
        (GOOD.body, key_pem(ec_key()), None, "KeyPairMismatch", MISMATCH),
        (GOOD.body, GOOD.private_key, "garbage", "MalformedCertificate", chain_message(0)),
        # the root first: it did not sign the leaf
        (
            GOOD.body,
            GOOD.private_key,
            GOOD.chain.split("-----END CERTIFICATE-----\n")[1] + "-----END CERTIFICATE-----\n",
            "MalformedCertificate",
            chain_message(0),
        ),
        # the right intermediate, then a stranger
        (
            GOOD.body,
            GOOD.private_key,
            GOOD.chain.split("-----END CERTIFICATE-----\n")[0]
            + "-----END CERTIFICATE-----\n"
            + certificate(rsa_key(2048, 9), "Stranger"),
            "MalformedCertificate",
            chain_message(1),
        ),
        (GOOD.body, GOOD.private_key, GOOD.chain + "trailing", "MalformedCertificate", None),
    ],
    ids=[
        "body-not-pem",
        "body-two-certificates",
        "body-corrupt-der",
        "key-not-pem",
        "key-is-a-certificate",
        "key-of-another-rsa-pair",
        "key-of-another-type",
        "chain-not-pem",
        "chain-out-of-order",
        "chain-with-a-stranger",
        "chain-with-trailing-text",
    ],
)
def test_bad_uploads_in_awss_words(
    body: str, key: str, chain: str | None, code: str, message: str | None
) -> None:
    err = failure(body, key, chain)
    assert err.code == code
    if message is not None:
        assert err.message == message


def test_an_encrypted_key_is_malformed() -> None:
    k = rsa_key()
    encrypted = k.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass"),
    ).decode()
    assert failure(certificate(k, "x"), encrypted).message == KEY_MALFORMED


def test_an_expired_certificate_is_refused_in_awss_words() -> None:
    up = upload(not_after=NOW - timedelta(seconds=1))
    assert failure(up.body, up.private_key).message == EXPIRED


def test_no_message_echoes_the_private_key() -> None:
    k = rsa_key(2048, 7)
    secret = key_pem(k)
    for err in (
        failure(GOOD.body, secret),
        failure("junk", secret),
        failure(GOOD.body, secret[:-40]),
    ):
        inner = "".join(secret.splitlines()[1:3])
        assert inner[:32] not in err.message
