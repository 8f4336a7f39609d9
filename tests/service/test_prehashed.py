"""Passwords hashed ahead on a pool are the hashes the operation stores."""

from __future__ import annotations

from selfiam.auth.passwords import PasswordHasher
from selfiam.service.prehashed import PrehashingHasher


def test_announced_passwords_are_hashed_once_ahead_and_verify() -> None:
    inner = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    hasher = PrehashingHasher(inner, workers=2)
    try:
        passwords = [f"Pass-{i}-word!" for i in range(6)]
        for password in passwords:
            hasher.announce(password)
        hashes = [hasher.hash(p) for p in passwords]
        assert all(inner.verify(h, p) for h, p in zip(hashes, passwords, strict=True))
        assert hashes[0].startswith("$argon2id$") and "m=1024,t=1" in hashes[0]
        assert not hasher._pending  # each announced hash was handed out once
        hasher.announce("dropped")
        hasher.forget("dropped")
        unannounced = hasher.hash("never-announced")  # hashed on the spot
        assert inner.verify(unannounced, "never-announced")
    finally:
        hasher.close()
