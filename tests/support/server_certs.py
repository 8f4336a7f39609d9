"""PEM material for server-certificate tests: keys, a CA, an intermediate, a leaf.

Keys are made once per process (RSA generation is the slow part) and reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

#: Valid around the tests' clock (2026-11-27) and the live servers' real time.
NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2028, 1, 1, tzinfo=UTC)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@cache
def rsa_key(bits: int = 2048, n: int = 0) -> rsa.RSAPrivateKey:
    """An RSA key of ``bits``; ``n`` tells several keys of one size apart."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def ec_key(curve: str = "secp256r1", n: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(getattr(ec, curve.upper())())


def key_pem(key: PrivateKey, fmt: str = "pkcs8") -> str:
    formats = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
    }
    return key.private_bytes(
        serialization.Encoding.PEM, formats[fmt], serialization.NoEncryption()
    ).decode()


def certificate(
    key: PrivateKey,
    subject: str,
    *,
    issuer: tuple[str, PrivateKey] | None = None,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
) -> str:
    """A certificate for ``key`` named ``subject``, signed by ``issuer`` (or self-signed)."""
    issuer_name, signer = issuer if issuer is not None else (subject, key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(signer, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class Upload:
    body: str
    private_key: str
    chain: str


def upload(leaf_key: PrivateKey | None = None, *, not_after: datetime = NOT_AFTER) -> Upload:
    """A leaf for www.example.com issued by an intermediate issued by a root CA; the chain
    is the intermediate then the root, as AWS asks."""
    root_key, inter_key = rsa_key(2048, 1), rsa_key(2048, 2)
    leaf_key = leaf_key or rsa_key(2048, 0)
    root = certificate(root_key, "Example Root CA")
    inter = certificate(inter_key, "Example Intermediate", issuer=("Example Root CA", root_key))
    leaf = certificate(
        leaf_key,
        "www.example.com",
        issuer=("Example Intermediate", inter_key),
        not_after=not_after,
    )
    return Upload(leaf, key_pem(leaf_key), inter + root)
