from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from selfiam.auth.secretbox import MasterKeyError, SecretBox, SecretBoxError


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox.load_or_create(tmp_path / "master.key")


def test_round_trip(box: SecretBox) -> None:
    blob = box.seal(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", b"AKIAEXAMPLE")
    assert b"wJalrXUtnFEMI" not in blob
    assert box.open(blob, b"AKIAEXAMPLE") == b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_fresh_nonce_each_time(box: SecretBox) -> None:
    assert box.seal(b"x", b"ad") != box.seal(b"x", b"ad")


def test_blob_cannot_move_to_another_row(box: SecretBox) -> None:
    blob = box.seal(b"secret", b"AKIAAAAAAAAAAAAAAAAA")
    with pytest.raises(SecretBoxError):
        box.open(blob, b"AKIABBBBBBBBBBBBBBBB")


def test_tampering_detected(box: SecretBox) -> None:
    blob = bytearray(box.seal(b"secret", b"ad"))
    for i in (0, 5, len(blob) - 1):
        bad = bytearray(blob)
        bad[i] ^= 1
        with pytest.raises(SecretBoxError):
            box.open(bytes(bad), b"ad")
    with pytest.raises(SecretBoxError):
        box.open(bytes(blob[:20]), b"ad")


def test_other_key_cannot_open(box: SecretBox) -> None:
    other = SecretBox(SecretBox.generate_key())
    with pytest.raises(SecretBoxError):
        other.open(box.seal(b"s", b"ad"), b"ad")


def test_key_file_is_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "master.key"
    first = SecretBox.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    blob = first.seal(b"s", b"ad")
    assert SecretBox.load_or_create(path).open(blob, b"ad") == b"s"
    assert SecretBox.load(path).open(blob, b"ad") == b"s"
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]
    assert "key hidden" in repr(first)


def test_refuses_readable_key_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    SecretBox.load_or_create(path)
    os.chmod(path, 0o644)
    with pytest.raises(MasterKeyError, match="chmod 600"):
        SecretBox.load(path)
    SecretBox.load(path, strict_permissions=False)


def test_missing_and_malformed_key_files(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError):
        SecretBox.load(tmp_path / "nope.key")
    bad = tmp_path / "bad.key"
    bad.write_text("not base64!!\n")
    os.chmod(bad, 0o600)
    with pytest.raises(MasterKeyError):
        SecretBox.load(bad)
    short = tmp_path / "short.key"
    short.write_text("AAAA\n")
    os.chmod(short, 0o600)
    with pytest.raises(MasterKeyError):
        SecretBox.load(short)


def test_concurrent_creation_yields_one_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    boxes: list[SecretBox] = []
    barrier = threading.Barrier(8)

    def make() -> None:
        barrier.wait()
        boxes.append(SecretBox.load_or_create(path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    blob = boxes[0].seal(b"s", b"ad")
    assert all(b.open(blob, b"ad") == b"s" for b in boxes)
