"""Encryption at rest for the secrets the server must be able to read back.

Passwords are hashed (see :mod:`selfiam.auth.passwords`), but access-key
secrets and TOTP seeds must be recoverable — SigV4 and TOTP verification need
them in clear — so they are sealed with AES-256-GCM under a master key the
operator holds in a file (DESIGN rule 5).

Blob layout: ``version (1 byte) || nonce (12 bytes) || ciphertext+tag``.
The version byte is also bound into the associated data, so it cannot be
altered. Callers pass associated data naming the row a secret belongs to
(e.g. the access key id): a ciphertext copied onto another row fails to open.

Rotating the master key (``selfiam rotate-master-key``, :mod:`selfiam.service.rekey`)
puts the new key in ``<key file>.next`` while every secret is re-sealed. A box loaded
from the key file seals under ``.next`` when it exists and opens with either key; it
re-reads the files when they change (checked before each seal, and when a blob does not
open), so a server started before the rotation follows it without a restart.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
import threading
from collections.abc import Sequence
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


def next_key_file(path: str | os.PathLike[str]) -> Path:
    """Where a rotation keeps the new master key until every secret is sealed under it."""
    p = Path(path)
    return p.with_name(p.name + ".next")


def _checked(key: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"the master key must be {KEY_BYTES} bytes, not {len(key)}")
    return key


class SecretBox:
    """Seal and open secrets under one 256-bit master key (and, during a rotation, open
    with the ``previous`` ones too)."""

    def __init__(self, key: bytes, previous: Sequence[bytes] = ()) -> None:
        self._set(key, previous)
        #: The key file this box follows (see the module's docstring), the files whose
        #: signature is checked (the key file, its ``.next``), and what it last saw.
        self._source: Path | None = None
        self._watched: tuple[str, str] = ("", "")
        self._seen: tuple[object, ...] = ()
        self._reload = threading.Lock()

    def _set(self, key: bytes, previous: Sequence[bytes]) -> None:
        # One assignment: a concurrent seal or open sees the old keys or the new, not a mix.
        self._keys = (
            _checked(key),
            AESGCM(key),
            tuple(AESGCM(_checked(k)) for k in previous),
        )

    @property
    def _key(self) -> bytes:
        return self._keys[0]

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
        return cls(_read_key(Path(path), strict_permissions))

    @classmethod
    def follow(cls, path: str | os.PathLike[str]) -> SecretBox:
        """The box of key file ``path`` and, during a rotation, of ``path.next`` (which it
        seals under), following the files as they change."""
        box = cls(_read_key(Path(path)))
        box._source = Path(path)
        box._watched = (str(path), str(next_key_file(path)))
        box.refresh()
        return box

    def refresh(self) -> bool:
        """Re-read the key files if they changed since last read; whether they had."""
        if self._source is None:
            return False
        if _signature(self._watched) == self._seen:  # the common case: two stat calls
            return False
        with self._reload:
            for _ in range(3):  # a rotation may rename a file between the stat and the read
                seen = _signature(self._watched)
                if seen == self._seen:
                    return False
                try:
                    current = _read_key(self._source)
                    upcoming = next_key_file(self._source)
                    keys = (_read_key(upcoming), [current]) if seen[1] else (current, [])
                except MasterKeyError:
                    continue
                if _signature(self._watched) == seen:
                    self._set(*keys)
                    self._seen = seen
                    return True
            raise MasterKeyError(f"the key files of {self._source} keep changing; try again")

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
            write_new_key_file(p, cls.generate_key())
        if strict_permissions:
            return cls.follow(p)
        return cls.load(p, strict_permissions=False)

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
        self._follow()
        nonce = secrets.token_bytes(NONCE_BYTES)
        header = bytes([VERSION]) + nonce
        aead = self._keys[1]
        return header + aead.encrypt(nonce, plaintext, bytes([VERSION]) + associated_data)

    def open(self, blob: bytes, associated_data: bytes) -> bytes:
        """Decrypt a blob from :meth:`seal`; raise :class:`SecretBoxError` if it
        was altered, sealed under another key, or sealed for other associated data."""
        try:
            return self._open(blob, associated_data)
        except SecretBoxError:
            if not self._follow():
                raise
        return self._open(blob, associated_data)

    def _follow(self) -> bool:
        """``refresh``, keeping the keys in hand when the files cannot be read (a key file
        removed by mistake must not stop every request)."""
        try:
            return self.refresh()
        except MasterKeyError:
            return False

    def opens_with_current(self, blob: bytes, associated_data: bytes) -> bool:
        """Whether ``blob`` was sealed under the key :meth:`seal` uses now."""
        try:
            self._open(blob, associated_data, only_current=True)
        except SecretBoxError:
            return False
        return True

    def _open(self, blob: bytes, associated_data: bytes, only_current: bool = False) -> bytes:
        if len(blob) < _HEADER + 16 or blob[0] != VERSION:
            raise SecretBoxError("not a sealed secret of a known version")
        nonce = blob[1:_HEADER]
        _, current, previous = self._keys
        for aead in (current,) if only_current else (current, *previous):
            try:
                return aead.decrypt(nonce, blob[_HEADER:], bytes([VERSION]) + associated_data)
            except InvalidTag:
                continue
        raise SecretBoxError("the sealed secret does not open")


def write_new_key_file(p: Path, key: bytes) -> bool:
    """Write ``key`` to ``p`` (mode 0600) unless ``p`` exists; whether it was written.

    Atomic: the key is written to a private temporary file, fsynced, then hard-linked
    into place, which fails if another process got there first."""
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(base64.b64encode(_checked(key)).decode("ascii") + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, p)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def read_key_file(p: Path) -> bytes:
    """The 32 bytes of key file ``p`` (refused if group or others may read it)."""
    return _read_key(p)


def _signature(paths: Sequence[str]) -> tuple[object, ...]:
    """What changes when one of the key files is written or replaced (inode, size, mtime)."""
    out: list[object] = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


def _read_key(p: Path, strict_permissions: bool = True) -> bytes:
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
        return base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise MasterKeyError(f"master key file {p} is not base64") from None
