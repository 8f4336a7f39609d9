"""Encryption at rest for the secrets the server must be able to read back.

Passwords are hashed (see :mod:`selfiam.auth.passwords`), but access-key
secrets and TOTP seeds must be recoverable — SigV4 and TOTP verification need
them in clear — so they are sealed with AES-256-GCM under a master key the
operator holds in a file (DESIGN rule 5).

Blob layout: ``version (1 byte) || nonce (12 bytes) || ciphertext+tag``.
The version byte is also bound into the associated data, so it cannot be
altered. Callers pass associated data naming the row a secret belongs to
(e.g. the access key id): a ciphertext copied onto another row fails to open.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
_HEADER = 1 + NONCE_BYTES


class SecretBoxError(Exception):
    """A blob that does not open: tampered, swapped between rows, or wrong key."""


class MasterKeyError(Exception):
    """The master key file is missing, malformed or readable by others."""


class SecretBox:
    """Seal and open secrets under one 256-bit master key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise MasterKeyError(f"the master key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self._key = key

    def __repr__(self) -> str:  # never show the key
        return "SecretBox(<key hidden>)"

    @staticmethod
    def generate_key() -> bytes:
        return secrets.token_bytes(KEY_BYTES)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, strict_permissions: bool = True) -> SecretBox:
        """Load the key file (base64 text of 32 bytes).

        With ``strict_permissions`` (the default), refuse a file that group or
        others can read or write, as ssh does for private keys.
        """
        p = Path(path)
        try:
            st = p.stat()
            text = p.read_text(encoding="ascii")
        except FileNotFoundError:
            raise MasterKeyError(f"master key file {p} does not exist") from None
        if strict_permissions and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise MasterKeyError(
                f"master key file {p} is accessible by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):o}); run: chmod 600 {p}"
            )
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raise MasterKeyError(f"master key file {p} is not base64") from None
        return cls(key)

    @classmethod
    def load_or_create(
        cls, path: str | os.PathLike[str], *, strict_permissions: bool = True
    ) -> SecretBox:
        """Load the key file, creating it (mode 0600) with a fresh key if absent.

        Creation is atomic and safe against several processes starting at
        once: the key is written to a private temporary file, then hard-linked
        into place, which fails if another process got there first — in which
        case that process's key is loaded.
        """
        p = Path(path)
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(f".{p.name}.{secrets.token_hex(8)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.write(base64.b64encode(cls.generate_key()).decode("ascii") + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, p)
            finally:
                tmp.unlink(missing_ok=True)
        return cls.load(p, strict_permissions=strict_permissions)

    def derive_key(self, purpose: str) -> bytes:
        """A 256-bit key for ``purpose`` (HKDF-SHA256 of the master key), e.g. to MAC
        the portal's CSRF tokens: the same on every node sharing the master key,
        and telling nothing about the master key or the keys of other purposes."""
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=b"selfiam/" + purpose.encode(),
        )
        return hkdf.derive(self._key)

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt ``plaintext`` bound to ``associated_data``; a fresh nonce each time."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        header = bytes([VERSION]) + nonce
        return header + self._aead.encrypt(nonce, plaintext, bytes([VERSION]) + associated_data)

    def open(self, blob: bytes, associated_data: bytes) -> bytes:
        """Decrypt a blob from :meth:`seal`; raise :class:`SecretBoxError` if it
        was altered, sealed under another key, or sealed for other associated data."""
        if len(blob) < _HEADER + 16 or blob[0] != VERSION:
            raise SecretBoxError("not a sealed secret of a known version")
        nonce = blob[1:_HEADER]
        try:
            return self._aead.decrypt(nonce, blob[_HEADER:], bytes([VERSION]) + associated_data)
        except InvalidTag:
            raise SecretBoxError("the sealed secret does not open") from None
