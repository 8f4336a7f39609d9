from __future__ import annotations

import base64
import re
import uuid

import pytest

from selfiam.domain import identifiers as ids

UNIQUE = re.compile(r"\A[A-Z]{4}[A-Z2-7]{17}\Z")


@pytest.mark.parametrize(
    ("make", "prefix"),
    [
        (ids.new_user_id, "AIDA"),
        (ids.new_group_id, "AGPA"),
        (ids.new_policy_id, "ANPA"),
        (ids.new_role_id, "AROA"),
        (ids.new_server_certificate_id, "ASCA"),
    ],
)
def test_unique_ids_have_aws_shape(make, prefix) -> None:
    values = {make() for _ in range(200)}
    assert len(values) == 200
    for v in values:
        assert v.startswith(prefix) and len(v) == 21 and UNIQUE.match(v)


@pytest.mark.parametrize(
    ("make", "prefix"),
    [(ids.new_access_key_id, "AKIA"), (ids.new_temporary_access_key_id, "ASIA"),
     (ids.new_ssh_public_key_id, "APKA")],
)
def test_twenty_char_ids(make, prefix) -> None:
    v = make()
    assert re.fullmatch(prefix + r"[A-Z2-7]{16}", v)


def test_access_key_shape_check() -> None:
    assert ids.looks_like_access_key_id(ids.new_access_key_id())
    assert ids.looks_like_access_key_id(ids.new_temporary_access_key_id())
    assert not ids.looks_like_access_key_id("AKIA" + "1" * 16)
    assert not ids.looks_like_access_key_id(ids.new_user_id())


def test_signing_certificate_id_meets_botocore_minimum() -> None:
    v = ids.new_signing_certificate_id()
    assert re.fullmatch(r"[A-Z2-7]{32}", v)


def test_secret_access_key() -> None:
    keys = {ids.new_secret_access_key() for _ in range(100)}
    assert len(keys) == 100
    for k in keys:
        assert re.fullmatch(r"[A-Za-z0-9/+]{40}", k)


def test_session_token_is_base64() -> None:
    token = ids.new_session_token()
    assert len(base64.b64decode(token, validate=True)) == 192
    assert ids.new_session_token() != token


def test_account_id() -> None:
    for _ in range(100):
        a = ids.new_account_id()
        assert re.fullmatch(r"[1-9][0-9]{11}", a)
        assert ids.is_account_id(a)
    assert not ids.is_account_id("12345678901")
    assert not ids.is_account_id("１２３４５６７８９０１２")  # full-width digits


def test_request_id_is_uuid4() -> None:
    assert uuid.UUID(ids.new_request_id()).version == 4


def test_request_ids_are_lowercase_uuid4s_and_never_repeat() -> None:
    """Drawn from random bytes read ahead (``new_request_id``): across several refills,
    every id is a canonical RFC 4122 version 4 UUID, and none repeats."""
    seen = {ids.new_request_id() for _ in range(2_000)}
    assert len(seen) == 2_000
    for request_id in seen:
        parsed = uuid.UUID(request_id)
        assert str(parsed) == request_id
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_draws_new_request_ids() -> None:
    import os

    ids.new_request_id()  # bytes read ahead in the parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.write(write, ids.new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert child != ids.new_request_id()
