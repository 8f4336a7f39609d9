"""X.509 signing certificates as UploadSigningCertificate accepts them.

Pure: no I/O, the clock is passed in. What AWS checks, and how selfiam words it:

* the body must be one PEM ``CERTIFICATE`` block and nothing else, else
  ``MalformedCertificate`` — worded as AWS words it (recorded against AWS):
  ``Certificate <body> is malformed.`` A certificate is public, so echoing the
  body leaks nothing — except when a private key was pasted along with it: that
  body is refused without being echoed, and never stored (it would be listed
  back to anyone allowed ListSigningCertificates);
* an expired certificate is refused with ``MalformedCertificate`` too (the
  model's error shape: "malformed or expired");
* a certificate whose key AWS would not sign requests with (anything but RSA
  of at least 1024 bits or ECDSA) is ``InvalidCertificate``.

Duplicates are found by the SHA-256 of the DER encoding, so the same
certificate re-wrapped (other line lengths, CRLF, surrounding text) is the
same certificate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from selfiam.domain.errors import AwsError, InvalidCertificate, MalformedCertificate

MIN_RSA_BITS = 1024
_ONE_PEM_CERTIFICATE = re.compile(
    r"\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*"
)


@dataclass(frozen=True, slots=True)
class SigningCertificate:
    """A parsed certificate: what the service stores and compares."""

    der: bytes
    fingerprint_sha256: str
    not_after: datetime


def malformed(body: str) -> AwsError:
    return MalformedCertificate(f"Certificate {body} is malformed.")


def parse_signing_certificate(body: str, now: datetime) -> SigningCertificate:
    """Parse and check ``body``; raise the AwsError AWS would give for a bad one."""
    if "PRIVATE KEY" in body:
        raise MalformedCertificate(
            "The certificate body contains a private key; upload the certificate alone."
        )
    if not _ONE_PEM_CERTIFICATE.fullmatch(body):
        raise malformed(body)
    try:
        cert = x509.load_pem_x509_certificate(body.encode("ascii"))
    except ValueError:
        raise malformed(body) from None
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):  # a key type or encoding cryptography refuses
        raise InvalidCertificate("The certificate's public key is not supported.") from None
    _check_key(key)
    not_after = cert.not_valid_after_utc
    if not_after <= now:
        raise MalformedCertificate(
            f"The certificate expired on {not_after.strftime('%Y-%m-%dT%H:%M:%SZ')}."
        )
    der = cert.public_bytes(serialization.Encoding.DER)
    return SigningCertificate(
        der=der, fingerprint_sha256=hashlib.sha256(der).hexdigest(), not_after=not_after
    )


def _check_key(key: object) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidCertificate(
                f"The certificate's RSA key has {key.key_size} bits; "
                f"at least {MIN_RSA_BITS} are required."
            )
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        return
    raise InvalidCertificate(
        "The certificate's public key algorithm is not supported; use RSA or ECDSA."
    )
