"""Verify an OpenID Connect token as STS AssumeRoleWithWebIdentity does.

The order matters: nothing is fetched for a token whose header names a refused
algorithm or whose ``iss`` is no provider of the account (an anonymous caller must
not make selfiam fetch arbitrary URLs); the signature is checked before any claim
is trusted, with the issuer's published asymmetric keys only (``none`` and HMAC are
refused: an HMAC "signed" with the issuer's public key would otherwise pass).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key

from selfiam.domain.errors import (
    ExpiredTokenException,
    IDPCommunicationError,
    InvalidIdentityToken,
)
from selfiam.service.oidc.keys import IssuerKeys, KeysUnavailable

#: Signature algorithms of asymmetric keys (RFC 7518, RFC 8037).
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
#: Seconds of clock difference tolerated between the issuer and selfiam.
LEEWAY = 60

NOT_VALIDATED = (
    "The web identity token that was passed could not be validated by AWS. Get a new "
    "identity token from the identity provider and then retry the request."
)
NO_KEY = (
    "Couldn't retrieve verification key from your identity provider,  please reference "
    "AssumeRoleWithWebIdentity documentation for requirements"
)
UNREACHABLE = (
    "The request could not be fulfilled because the identity provider (IDP) that was "
    "asked to verify the incoming identity token could not be reached."
)
WRONG_AUDIENCE = "Incorrect token audience"


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    issuer: str
    audience: str  # the client id that matched (``azp`` when present, as AWS keys it)
    claims: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])


#: Given an ``iss`` claim: the provider's client ids, or None if it is no provider.
ProviderLookup = Callable[[str], "list[str] | None"]


def verify_token(
    token: str, lookup: ProviderLookup, keys: IssuerKeys, now: datetime
) -> VerifiedToken:
    """The token's verified claims, or AWS's error for it."""
    try:
        unverified = jws.extract_compact(token.encode())
        header = unverified.headers()
        claims = json.loads(unverified.payload)
    except (JoseError, ValueError, TypeError, UnicodeError):
        raise InvalidIdentityToken(NOT_VALIDATED) from None
    if not isinstance(claims, dict):
        raise InvalidIdentityToken(NOT_VALIDATED)
    alg = header.get("alg") if isinstance(header, dict) else None
    if not isinstance(alg, str) or alg not in ASYMMETRIC:
        raise InvalidIdentityToken(NOT_VALIDATED)
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise InvalidIdentityToken(NOT_VALIDATED)
    client_ids = lookup(issuer)
    if client_ids is None:
        raise InvalidIdentityToken(f"No OpenIDConnect provider found in your account for {issuer}")
    audience = _audience(claims, client_ids)

    kid = header.get("kid")
    kid = kid if isinstance(kid, str) else None
    try:
        published = keys.keys_for(issuer, kid)
    except KeysUnavailable:
        raise IDPCommunicationError(UNREACHABLE) from None
    if alg not in published.algorithms or published.keys is None:
        raise InvalidIdentityToken(NOT_VALIDATED)
    candidates: list[Key] = (
        [k for k in published.keys.keys if k.kid == kid]
        if kid is not None
        else list(published.keys.keys)
    )
    if not candidates:
        raise InvalidIdentityToken(NO_KEY)
    if not any(_verifies(token, key, alg) for key in candidates):
        raise InvalidIdentityToken(NOT_VALIDATED)
    _check_times(claims, now)
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidIdentityToken(NOT_VALIDATED)
    return VerifiedToken(issuer, audience, claims)


def _verifies(token: str, key: Key, alg: str) -> bool:
    try:
        jws.deserialize_compact(token, key, algorithms=[alg])
    except Exception:  # noqa: BLE001 (a key that cannot check this signature did not sign it)
        return False
    return True


def _audience(claims: dict[str, Any], client_ids: list[str]) -> str:
    """The client id the token is for: ``azp`` when the token has one (AWS's ``:aud``
    key is then ``azp`` and ``:oaud`` the ``aud``), else ``aud`` or one of its list."""
    azp = claims.get("azp")
    if isinstance(azp, str):
        if azp in client_ids:
            return azp
        raise InvalidIdentityToken(WRONG_AUDIENCE)
    aud = claims.get("aud")
    given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    for value in given:
        if isinstance(value, str) and value in client_ids:
            return value
    raise InvalidIdentityToken(WRONG_AUDIENCE)


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidIdentityToken(NOT_VALIDATED)
    try:
        return float(value)
    except OverflowError:  # an integer beyond any date
        raise InvalidIdentityToken(NOT_VALIDATED) from None


def _check_times(claims: dict[str, Any], now: datetime) -> None:
    current = now.timestamp()
    exp = _number(claims, "exp")
    if exp is None:
        raise InvalidIdentityToken(NOT_VALIDATED)
    if current > exp + LEEWAY:
        raise ExpiredTokenException(
            f"Token expired: current date/time {int(current)} must be before the "
            f"expiration date/time {int(exp)}"
        )
    for name in ("nbf", "iat"):
        at = _number(claims, name)
        if at is not None and at > current + LEEWAY:
            raise InvalidIdentityToken(NOT_VALIDATED)
