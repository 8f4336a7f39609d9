"""A small OpenID Connect issuer of the tests' own, served over HTTPS on loopback.

It has its own CA (``ca_file``: give it to selfiam as ``SSL_CERT_FILE``), publishes
``/.well-known/openid-configuration`` and ``/jwks.json``, signs tokens with joserfc,
rotates its key by swapping the JWKS, and counts what it served (``fetches``), so
tests can tell how often selfiam came for its keys.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import Key, RSAKey

AUDIENCE = "sts.amazonaws.com"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def write_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1/localhost it signed: (ca, cert, key) files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("selfiam test CA"))
        .issuer_name(_name("selfiam test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


class Issuer:
    """The issuer's state: its URL, its current key, what it has served."""

    def __init__(self, url: str, ca_file: Path) -> None:
        self.url = url
        self.ca_file = ca_file
        self.key: RSAKey = RSAKey.generate_key(2048, parameters={"kid": "key-1"}, private=True)
        self.published: list[Key] = [self.key]
        self.fetches: Counter[str] = Counter()
        self._lock = threading.Lock()
        #: The tokens' clock (seconds since the epoch): the tests' clock, if they have one.
        self.now: Callable[[], float] = time.time
        #: While set and not open, a fetch of the key set waits (a fetch held in flight).
        self.gate: threading.Event | None = None

    @property
    def provider_name(self) -> str:
        return self.url.removeprefix("https://")

    def rotate(self, kid: str) -> RSAKey:
        """A new signing key, published instead of the old one."""
        with self._lock:
            self.key = RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
            self.published = [self.key]
        return self.key

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks.json",
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
        }

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [k.as_dict(private=False) for k in self.published]}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(self.now())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "repo:org/repo:ref:refs/heads/main",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self, key: Key | None = None, header: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """A token signed with ``key`` (default: the current one), claims overridden
        (``None`` drops a claim)."""
        signer = key or self.key
        head = {"alg": "RS256", "kid": signer.kid, "typ": "JWT", **(header or {})}
        return jwt.encode(head, self.claims(**claims), signer)

    @property
    def document_fetches(self) -> int:
        return self.fetches["/.well-known/openid-configuration"]


def _handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            issuer.fetches[self.path] += 1
            if self.path == "/.well-known/openid-configuration":
                body = json.dumps(issuer.discovery()).encode()
            elif self.path == "/jwks.json":
                if issuer.gate is not None:
                    issuer.gate.wait(timeout=60)
                body = json.dumps(issuer.jwks()).encode()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def running_issuer(directory: Path) -> Iterator[Issuer]:
    """An HTTPS issuer on a free loopback port, stopped afterwards."""
    ca_file, cert_file, key_file = write_ca_and_server_cert(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Issuer("", ca_file)))
    issuer = Issuer(f"https://127.0.0.1:{server.server_address[1]}", ca_file)
    server.RequestHandlerClass = _handler(issuer)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
