"""Server certificates as UploadServerCertificate accepts them: a PEM certificate, its PEM
private key, and an optional PEM chain.

Pure: no I/O, the clock is passed in. What is checked (IAM User Guide, "Managing server
certificates in IAM"; botocore's error shapes):

* the body is one PEM ``CERTIFICATE`` block that parses, else ``MalformedCertificate``;
  a certificate whose "Not After" has passed is refused too, in AWS's words;
* the private key is one unencrypted PEM private key (PKCS#1 ``RSA PRIVATE KEY``,
  SEC1 ``EC PRIVATE KEY`` or PKCS#8 ``PRIVATE KEY``) of a type and size IAM accepts:
  RSA of 1024 to 4096 bits, or ECDSA on P-256 or P-384; else ``MalformedCertificate``;
* the private key belongs to the certificate's public key, else ``KeyPairMismatch``;
* the chain, when given, is PEM certificates starting with the certificate's issuer,
  each signing the one before; else ``MalformedCertificate`` naming the index of the
  first that fails, in AWS's words.

No message ever echoes the private key (it is a secret); the certificate and the chain
are public, but are not echoed either.

The work is linear in the request's size (at most 16 KB of body and key, 2 MB of chain,
botocore's limits): each certificate of the chain is parsed and one signature checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from selfiam.domain.errors import AwsError, KeyPairMismatch, MalformedCertificate

MIN_RSA_BITS = 1024
MAX_RSA_BITS = 4096
EC_CURVES = ("secp256r1", "secp384r1")

_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")
_ONE_CERTIFICATE = re.compile(r"\s*" + _CERTIFICATE.pattern + r"\s*")
_ONE_KEY = re.compile(
    r"\s*-----BEGIN (?P<kind>(?:RSA |EC )?PRIVATE KEY)-----[A-Za-z0-9+/=\s]+?"
    r"-----END (?P=kind)-----\s*"
)

BODY_MALFORMED = "Unable to parse certificate. Please ensure the certificate is in PEM format."
KEY_MALFORMED = "Unable to parse private key. Please ensure the key is an unencrypted PEM key."
EXPIRED = (
    "Certificate is no longer valid. The 'Not After' date restriction on the certificate has "
    "passed."
)
MISMATCH = "The public key certificate and the private key do not match."


def chain_malformed(index: int) -> AwsError:
    return MalformedCertificate(
        "Unable to validate certificate chain. The certificate chain must start with the "
        "immediate signing certificate, followed by any intermediaries in order. The index "
        f"within the chain of the invalid certificate is: {index}"
    )


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """What the service keeps of a checked upload besides the PEM texts."""

    not_after: datetime


def _load_certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def _check_key_type(key: PrivateKeyTypes) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if isinstance(key, rsa.RSAPrivateKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise MalformedCertificate(
                f"The RSA private key has {key.key_size} bits; IAM accepts "
                f"{MIN_RSA_BITS} to {MAX_RSA_BITS}."
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in EC_CURVES:
            raise MalformedCertificate(
                f"The ECDSA private key's curve {key.curve.name} is not supported; "
                "use P-256 or P-384."
            )
        return key
    raise MalformedCertificate("The private key's algorithm is not supported; use RSA or ECDSA.")


def _load_private_key(pem: str) -> PrivateKeyTypes:
    if not _ONE_KEY.fullmatch(pem):
        raise MalformedCertificate(KEY_MALFORMED)
    try:
        return serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # encrypted, corrupt, unknown type
        raise MalformedCertificate(KEY_MALFORMED) from None


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _check_chain(cert: x509.Certificate, chain: str) -> None:
    blocks = _CERTIFICATE.findall(chain)
    if not blocks or _CERTIFICATE.sub("", chain).strip():
        raise chain_malformed(0)
    child = cert
    for index, block in enumerate(blocks):
        try:
            parent = _load_certificate(block)
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise chain_malformed(index) from None
        child = parent


def parse_server_certificate(
    body: str, private_key: str, chain: str | None, now: datetime
) -> ServerCertificate:
    """Check an upload; raise the AwsError AWS would give for a bad one."""
    if not _ONE_CERTIFICATE.fullmatch(body):
        raise MalformedCertificate(BODY_MALFORMED)
    try:
        cert = _load_certificate(body)
        cert_key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise MalformedCertificate(BODY_MALFORMED) from None
    key = _check_key_type(_load_private_key(private_key))
    if _spki(key.public_key()) != _spki(cert_key):
        raise KeyPairMismatch(MISMATCH)
    not_after = cert.not_valid_after_utc
    if not_after <= now:
        raise MalformedCertificate(EXPIRED)
    if chain is not None:
        _check_chain(cert, chain)
    return ServerCertificate(not_after=not_after)
