"""Password hashing with argon2id (DESIGN rule 5: never stored in clear).

Thin wrapper over argon2-cffi so that the rest of selfiam never handles its
exceptions: verification returns a bool, and verification itself is the
library's constant-time comparison. :func:`verify_dummy` spends the same work
on a sign-in for an unknown user, so response time does not reveal which user
names exist.
"""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults follow RFC 9106's low-memory profile (argon2id,
# t=3, m=64 MiB, p=4): strong enough and affordable for a sign-in page.
_DEFAULT = argon2.PasswordHasher()


class PasswordHasher:
    """argon2id hash / verify / needs-rehash with chosen cost parameters.

    Tests may build a cheap one (``PasswordHasher(time_cost=1, memory_cost=8)``);
    hashes record their own parameters, so raising costs later only causes
    :meth:`needs_rehash` to ask for a rehash at the next successful sign-in.
    """

    def __init__(self, hasher: argon2.PasswordHasher | None = None, **params: int) -> None:
        if hasher is not None and params:
            raise TypeError("give either a hasher or parameters, not both")
        if params:
            hasher = argon2.PasswordHasher(type=argon2.Type.ID, **params)
        self._hasher = hasher or _DEFAULT
        self._dummy_hash = self._hasher.hash("selfiam-dummy-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """True if ``password`` matches; False on mismatch or a malformed hash."""
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True if the hash was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def verify_dummy(self, password: str) -> bool:
        """Do a verification's work against a fixed hash; always returns False."""
        self.verify(self._dummy_hash, password)
        return False


_default_hasher: PasswordHasher | None = None


def default_hasher() -> PasswordHasher:
    global _default_hasher
    if _default_hasher is None:
        _default_hasher = PasswordHasher()
    return _default_hasher


def hash_password(password: str) -> str:
    return default_hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    return default_hasher().verify(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return default_hasher().needs_rehash(password_hash)
