"""Malformed web identity tokens get AWS's InvalidIdentityToken, never a 500, and make
selfiam fetch nothing: the header and ``iss`` are checked before any key is looked for."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from selfiam.domain.errors import AwsError
from selfiam.service.oidc.keys import IssuerKeys
from selfiam.service.oidc.tokens import verify_token


def _part(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _token(header: Any, claims: Any) -> str:
    return f"{_part(header)}.{_part(claims)}.c2ln"


GOOD = {"iss": "https://issuer.example.com", "aud": "a", "sub": "s", "exp": 2_000_000_000}
CASES = [
    "",
    "..",
    "a.b.c",
    "x" * 20_000,
    _token([1], GOOD),
    _token({"alg": "RS256"}, [1]),
    _token({"alg": "RS256"}, b"\xff\xfe"),
    _token({"alg": ["RS256"]}, GOOD),
    _token({"alg": "none"}, GOOD),
    _token({"alg": "HS256"}, GOOD),
    _token({"alg": "RS256"}, {**GOOD, "iss": 5}),
    _token({"alg": "RS256"}, {**GOOD, "iss": "https://[::1"}),
    _token({"alg": "RS256"}, {**GOOD, "iss": "http://issuer.example.com"}),
    _token({"alg": "RS256"}, {**GOOD, "aud": {"a": 1}}),
    _token({"alg": "RS256"}, {**GOOD, "aud": ["b", 7]}),
]


@pytest.mark.parametrize("token", CASES)
def test_refused_without_a_fetch(token: str) -> None:
    fetched: list[str] = []

    def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        raise AssertionError("nothing may be fetched")

    def client_ids(issuer: str) -> list[str] | None:
        return ["a"] if issuer == "https://issuer.example.com" else None

    with pytest.raises(AwsError) as info:
        verify_token(token, client_ids, IssuerKeys(fetch=fetch), datetime.now(UTC))
    assert info.value.code == "InvalidIdentityToken"
    assert fetched == []
