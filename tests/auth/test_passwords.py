from __future__ import annotations

import pytest

from selfiam.auth import passwords
from selfiam.auth.passwords import PasswordHasher


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def test_hash_and_verify(hasher: PasswordHasher) -> None:
    h = hasher.hash("correct horse battery staple")
    assert h.startswith("$argon2id$")
    assert "correct horse" not in h
    assert hasher.verify(h, "correct horse battery staple")
    assert not hasher.verify(h, "Correct horse battery staple")
    assert hasher.hash("x") != hasher.hash("x")  # salted


def test_malformed_hash_does_not_verify(hasher: PasswordHasher) -> None:
    assert not hasher.verify("not-a-hash", "x")
    assert hasher.needs_rehash("not-a-hash")


def test_needs_rehash_when_costs_rise(hasher: PasswordHasher) -> None:
    h = hasher.hash("pw")
    assert not hasher.needs_rehash(h)
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert stronger.needs_rehash(h)
    assert stronger.verify(h, "pw")  # old hashes still verify


def test_verify_dummy_is_always_false(hasher: PasswordHasher) -> None:
    assert hasher.verify_dummy("selfiam-dummy-password") is False


def test_module_functions_use_defaults() -> None:
    h = passwords.hash_password("pw")
    assert "$m=65536,t=3,p=4$" in h
    assert passwords.verify_password(h, "pw")
    assert not passwords.verify_password(h, "px")
    assert not passwords.needs_rehash(h)


def test_hasher_xor_params() -> None:
    import argon2

    with pytest.raises(TypeError):
        PasswordHasher(argon2.PasswordHasher(), time_cost=1)
