"""SSH public keys: accepted encodings and types, AWS's fingerprint, re-encoding.

``rsa_public_key`` and ``ed25519_public_key`` are shared with the service and
integration tests.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from selfiam.domain.errors import AwsError
from selfiam.domain.ssh_keys import md5_fingerprint, parse_ssh_public_key

_RSA: dict[int, rsa.RSAPublicKey] = {}


def rsa_public_key(bits: int = 2048, *, fresh: bool = False) -> rsa.RSAPublicKey:
    """An RSA public key; by default one per size per run (generation is slow)."""
    if fresh or bits not in _RSA:
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
        if fresh:
            return key
        _RSA[bits] = key
    return _RSA[bits]


def ed25519_public_key() -> ed25519.Ed25519PublicKey:
    return ed25519.Ed25519PrivateKey.generate().public_key()


def openssh(key: rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def spki_pem(key: rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def failure(body: str) -> AwsError:
    with pytest.raises(AwsError) as info:
        parse_ssh_public_key(body)
    return info.value


def expected_md5(line: str) -> str:
    digest = hashlib.md5(base64.b64decode(line.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def test_an_openssh_rsa_key_with_a_comment_is_accepted() -> None:
    line = openssh(rsa_public_key())
    key = parse_ssh_public_key(f"{line} alice@laptop\n")
    assert key.key_type == "ssh-rsa"
    assert key.fingerprint == expected_md5(line)
    assert len(key.fingerprint) == 47
    assert key.encode("SSH") == line


def test_an_openssh_ed25519_key_is_accepted() -> None:
    line = openssh(ed25519_public_key())
    key = parse_ssh_public_key(line)
    assert key.key_type == "ssh-ed25519"
    assert key.fingerprint == expected_md5(line)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_the_fingerprint_is_what_ssh_keygen_prints(tmp_path: Path) -> None:
    line = openssh(rsa_public_key())
    path = tmp_path / "id_rsa.pub"
    path.write_text(line + " me@host\n")
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"MD5:{parse_ssh_public_key(line).fingerprint} " in out


@pytest.mark.parametrize("make", [rsa_public_key, ed25519_public_key])
def test_pem_and_ssh_encodings_are_the_same_key(make: object) -> None:
    pub = make()  # type: ignore[operator]
    from_ssh = parse_ssh_public_key(openssh(pub))
    from_pem = parse_ssh_public_key(spki_pem(pub))
    assert from_ssh.fingerprint == from_pem.fingerprint
    assert from_pem.encode("SSH") == openssh(pub)
    assert from_ssh.encode("PEM") == spki_pem(pub)
    assert from_ssh.encode("PEM").startswith("-----BEGIN PUBLIC KEY-----\n")


def test_a_pkcs1_rsa_public_key_is_accepted() -> None:
    pub = rsa_public_key()
    pkcs1 = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    key = parse_ssh_public_key(pkcs1.decode())
    assert key.encode("SSH") == openssh(pub)


def test_an_rsa_key_under_2048_bits_is_invalid() -> None:
    small = rsa_public_key(1024)
    for body in (openssh(small), spki_pem(small)):
        err = failure(body)
        assert (err.code, err.status) == ("InvalidPublicKey", 400)
        assert err.message == "The RSA public key has 1024 bits; the minimum length is 2048 bits."


@pytest.mark.parametrize(
    "body",
    [
        "not a key",
        "",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        "---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    ],
)
def test_unrecognized_encodings(body: str) -> None:
    err = failure(body)
    assert (err.code, err.status) == ("UnrecognizedPublicKeyEncoding", 400)


def test_ecdsa_and_dsa_keys_are_unrecognized() -> None:
    ecdsa = ec.generate_private_key(ec.SECP256R1()).public_key()
    dsa_key = dsa.generate_private_key(1024).public_key()
    for body in (openssh(ecdsa), spki_pem(ecdsa), spki_pem(dsa_key)):
        assert failure(body).code == "UnrecognizedPublicKeyEncoding", body


def test_two_keys_in_one_body_are_unrecognized() -> None:
    one, two = openssh(rsa_public_key()), openssh(ed25519_public_key())
    assert failure(f"{one}\n{two}").code == "UnrecognizedPublicKeyEncoding"
    assert failure(spki_pem(rsa_public_key()) * 2).code == "UnrecognizedPublicKeyEncoding"


@pytest.mark.parametrize(
    "body",
    [
        "ssh-rsa AAAA",
        "ssh-rsa not-base64!",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
    ],
)
def test_garbage_in_a_recognized_encoding_is_invalid(body: str) -> None:
    assert failure(body).code == "InvalidPublicKey"


def test_a_key_labelled_with_another_type_is_invalid() -> None:
    blob = openssh(rsa_public_key()).split()[1]
    assert failure(f"ssh-ed25519 {blob}").code == "InvalidPublicKey"


def test_a_private_key_is_refused_without_echo() -> None:
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )
    err = failure(pem)
    assert err.code == "InvalidPublicKey"
    assert pem.splitlines()[1] not in err.message


def test_an_unknown_encoding_is_refused() -> None:
    key = parse_ssh_public_key(openssh(ed25519_public_key()))
    with pytest.raises(AwsError) as info:
        key.encode("DER")
    assert info.value.code == "UnrecognizedPublicKeyEncoding"


def test_md5_fingerprint_format() -> None:
    fingerprint = md5_fingerprint(ed25519_public_key())
    parts = fingerprint.split(":")
    assert len(parts) == 16
    assert all(len(p) == 2 and p == p.lower() for p in parts)
