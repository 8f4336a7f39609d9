"""SSH public keys as UploadSSHPublicKey accepts them, and GetSSHPublicKey's encodings.

Pure: no I/O. AWS documents the body as "ssh-rsa format or PEM format", with
at least 2048 bits; PEM there is the X.509 SubjectPublicKeyInfo block
(``-----BEGIN PUBLIC KEY-----``), which is also what ``Encoding=PEM`` returns.
selfiam accepts, in either encoding:

* ``ssh-rsa`` keys of at least 2048 bits;
* ``ssh-ed25519`` keys (an extension: AWS documents RSA only);

and PKCS#1 ``-----BEGIN RSA PUBLIC KEY-----`` for RSA. Anything else — an
RFC 4716 ``---- BEGIN SSH2 PUBLIC KEY ----`` block, DSA or ECDSA keys,
several keys at once — is ``UnrecognizedPublicKeyEncoding``; a body in a
recognized encoding whose key does not decode, or an RSA key under 2048 bits,
is ``InvalidPublicKey``. A private key pasted by mistake is refused without
being stored or echoed.

The fingerprint is AWS's: the MD5 of the key's SSH wire encoding (the base64
part of the OpenSSH line, decoded), as colon-separated lowercase hex — what
``ssh-keygen -l -E md5`` prints. It is the same whichever encoding the key
was uploaded in, so one key uploaded twice is found as a duplicate.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from selfiam.domain.errors import InvalidPublicKey, UnrecognizedPublicKeyEncoding

MIN_RSA_BITS = 2048
SSH_KEY_TYPES = ("ssh-rsa", "ssh-ed25519")
Encoding = Literal["SSH", "PEM"]
ENCODINGS: tuple[Encoding, ...] = ("SSH", "PEM")

_PEM_LABELS = ("-----BEGIN PUBLIC KEY-----", "-----BEGIN RSA PUBLIC KEY-----")
_UNRECOGNIZED = (
    "The public key encoding format is unsupported or unrecognized. Upload an ssh-rsa or "
    "ssh-ed25519 key in OpenSSH format, or a PEM public key (-----BEGIN PUBLIC KEY-----)."
)
_INVALID = "The public key is malformed or otherwise invalid."

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class SSHPublicKey:
    """A parsed, accepted key."""

    key: PublicKey
    key_type: str  # "ssh-rsa" or "ssh-ed25519"
    fingerprint: str

    def encode(self, encoding: str) -> str:
        """The key in GetSSHPublicKey's ``Encoding``: an OpenSSH line or SPKI PEM."""
        if encoding == "SSH":
            return _openssh_line(self.key)
        if encoding == "PEM":
            return self.key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode("ascii")
        raise UnrecognizedPublicKeyEncoding(
            f"The encoding {encoding} is not recognized; use SSH or PEM."
        )


def parse_ssh_public_key(body: str) -> SSHPublicKey:
    """Parse ``body`` (OpenSSH one-line or PEM); raise AWS's error for a bad key."""
    text = body.strip()
    if "PRIVATE KEY" in text:
        raise InvalidPublicKey(
            "The body holds a private key. Upload the public key only (for example id_rsa.pub)."
        )
    key = _load_pem(text) if text.startswith("-----BEGIN") else _load_openssh(text)
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidPublicKey(
                f"The RSA public key has {key.key_size} bits; "
                f"the minimum length is {MIN_RSA_BITS} bits."
            )
        key_type = "ssh-rsa"
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type = "ssh-ed25519"
    else:
        raise UnrecognizedPublicKeyEncoding(_UNRECOGNIZED)
    return SSHPublicKey(key=key, key_type=key_type, fingerprint=md5_fingerprint(key))


def md5_fingerprint(key: PublicKey) -> str:
    """AWS's fingerprint: MD5 of the SSH wire encoding, ``aa:bb:…`` (47 characters)."""
    blob = base64.b64decode(_openssh_line(key).split(" ")[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _openssh_line(key: PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode("ascii")


def _load_pem(text: str) -> object:
    if not text.startswith(_PEM_LABELS) or text.count("-----BEGIN") != 1:
        raise UnrecognizedPublicKeyEncoding(_UNRECOGNIZED)
    try:
        return serialization.load_pem_public_key(text.encode("latin-1"))
    except UnsupportedAlgorithm:
        raise UnrecognizedPublicKeyEncoding(_UNRECOGNIZED) from None
    except ValueError:
        raise InvalidPublicKey(_INVALID) from None


def _load_openssh(text: str) -> object:
    """One ``type base64 [comment]`` line; the type must be one selfiam accepts."""
    if "\n" in text or "\r" in text:
        raise UnrecognizedPublicKeyEncoding(_UNRECOGNIZED)
    fields = text.split(None, 2)
    if len(fields) < 2 or fields[0] not in SSH_KEY_TYPES:
        raise UnrecognizedPublicKeyEncoding(_UNRECOGNIZED)
    try:
        return serialization.load_ssh_public_key(f"{fields[0]} {fields[1]}".encode("latin-1"))
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidPublicKey(_INVALID) from None
