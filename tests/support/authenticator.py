"""A software WebAuthn authenticator for unit tests: ES256 keys from ``cryptography``,
registration ("none" attestation) and assertion responses as browsers post them (JSON,
base64url), with every field a test may want to get wrong."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

UP, UV, AT = 0x01, 0x04, 0x40


def _client_data(kind: str, challenge: bytes, origin: str) -> bytes:
    return json.dumps(
        {
            "type": kind,
            "challenge": bytes_to_base64url(challenge),
            "origin": origin,
            "crossOrigin": False,
        }
    ).encode()


@dataclass
class SoftAuthenticator:
    """One credential: its key, id, user handle and signature counter."""

    rp_id: str = "localhost"
    origin: str = "http://localhost:8000"
    counter: int = 0
    user_verified: bool = True
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    user_handle: bytes = b""

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _flags(self) -> int:
        return UP | (UV if self.user_verified else 0)

    def register(
        self, options: dict[str, Any] | str, *, origin: str | None = None, rp_id: str | None = None
    ) -> str:
        """The JSON a browser posts after ``navigator.credentials.create(options)``."""
        opts = json.loads(options) if isinstance(options, str) else options
        challenge = base64url_to_bytes(opts["challenge"])
        self.user_handle = base64url_to_bytes(opts["user"]["id"])
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        attested = (
            bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
        ) + self._cose_key()
        auth_data = rp_hash + bytes([self._flags() | AT]) + struct.pack(">I", self.counter)
        auth_data += attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", challenge, origin or self.origin)
        return self._posted(
            client_data,
            {"attestationObject": bytes_to_base64url(attestation), "transports": ["usb"]},
            {"credProps": {"rk": True}},
        )

    def _posted(self, client_data: bytes, response: dict[str, Any], ext: dict[str, Any]) -> str:
        cid = bytes_to_base64url(self.credential_id)
        return json.dumps(
            {
                "id": cid,
                "rawId": cid,
                "type": "public-key",
                "response": {"clientDataJSON": bytes_to_base64url(client_data), **response},
                "clientExtensionResults": ext,
            }
        )

    def assert_(
        self,
        options: dict[str, Any] | str,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        counter: int | None = None,
    ) -> str:
        """The JSON a browser posts after ``navigator.credentials.get(options)``; the
        counter moves on by one unless ``counter`` is given."""
        opts = json.loads(options) if isinstance(options, str) else options
        challenge = base64url_to_bytes(opts["challenge"])
        self.counter = self.counter + 1 if counter is None else counter
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        auth_data = rp_hash + bytes([self._flags()]) + struct.pack(">I", self.counter)
        client_data = _client_data("webauthn.get", challenge, origin or self.origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return self._posted(
            client_data,
            {
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(self.user_handle),
            },
            {},
        )
