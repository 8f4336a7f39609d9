"""Hash many passwords ahead of the transactions that store them (``selfiam user import``).

argon2id costs a few hundred milliseconds of CPU per password with its default
parameters (64 MiB, t=3), and CreateLoginProfile hashes inside its write transaction,
which on SQLite holds the database's write lock for that long: thousands of users with
passwords, one after another, would take as many seconds as the hashes cost. Here the
hashes are computed beforehand on a thread pool (argon2-cffi releases the GIL, so each
core hashes one password), with the same parameters as every other hash: nothing is
weakened. The operation then asks this hasher for the hash of the password it was given
and receives the precomputed one, so it still runs through its own handler, its checks
(password policy) and its audit record.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from selfiam.auth.passwords import PasswordHasher


class PrehashingHasher(PasswordHasher):
    """A hasher that hashes announced passwords on a pool, and hashes any other one itself."""

    def __init__(self, inner: PasswordHasher, workers: int | None = None) -> None:
        # No super().__init__: it would spend a hash on a dummy the inner hasher already has.
        self._inner = inner
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
        self._pending: dict[str, Future[str]] = {}
        self._lock = threading.Lock()

    def announce(self, password: str) -> None:
        """Start hashing ``password`` on the pool (each password is used once)."""
        with self._lock:
            if password not in self._pending:
                self._pending[password] = self._pool.submit(self._inner.hash, password)

    def forget(self, password: str) -> None:
        """Drop an announced password that will not be stored (its user failed)."""
        with self._lock:
            future = self._pending.pop(password, None)
        if future is not None:
            future.cancel()

    def hash(self, password: str) -> str:
        with self._lock:
            future = self._pending.pop(password, None)
        return future.result() if future is not None else self._inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        return self._inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._inner.needs_rehash(password_hash)

    def verify_dummy(self, password: str) -> bool:
        return self._inner.verify_dummy(password)

    def close(self) -> None:
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for future in pending:
            future.cancel()
        self._pool.shutdown(wait=True)
