"""A box loaded from a key file follows a rotation: .next seals, both keys open."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from selfiam.auth.secretbox import (
    SecretBox,
    SecretBoxError,
    next_key_file,
    read_key_file,
    write_new_key_file,
)


def test_a_following_box_picks_up_the_next_key_and_the_swap(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    box = SecretBox.load_or_create(key_file)
    old = SecretBox(read_key_file(key_file))
    before = box.seal(b"secret", b"row-1")

    new_key = SecretBox.generate_key()
    assert write_new_key_file(next_key_file(key_file), new_key)
    assert not write_new_key_file(next_key_file(key_file), new_key)  # never overwritten
    new = SecretBox(new_key)
    during = box.seal(b"secret", b"row-2")  # sealed under the new key from now on
    assert new.open(during, b"row-2") == b"secret"
    with pytest.raises(SecretBoxError):
        old.open(during, b"row-2")
    assert box.open(before, b"row-1") == b"secret"  # the old key still opens

    os.replace(next_key_file(key_file), key_file)
    resealed = new.seal(b"secret", b"row-1")
    assert box.open(resealed, b"row-1") == b"secret"
    box.seal(b"x", b"row-3")  # a seal looks at the files: the old key is let go
    with pytest.raises(SecretBoxError):
        box.open(before, b"row-1")


def test_a_box_started_before_the_rotation_opens_what_was_re_sealed(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    box = SecretBox.load_or_create(key_file)
    new_key = SecretBox.generate_key()
    write_new_key_file(next_key_file(key_file), new_key)
    # Nothing sealed by this box since: it learns the new key when a blob does not open.
    assert box.open(SecretBox(new_key).seal(b"s", b"ad"), b"ad") == b"s"


def test_a_removed_key_file_leaves_the_loaded_key_in_use(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    box = SecretBox.load_or_create(key_file)
    sealed = box.seal(b"s", b"ad")
    key_file.unlink()
    assert box.open(box.seal(b"t", b"ad"), b"ad") == b"t"
    assert box.open(sealed, b"ad") == b"s"
