"""An issuer's signing keys, fetched through OpenID Connect discovery and cached.

``ISSUER/.well-known/openid-configuration`` names the ``jwks_uri`` and the algorithms
the issuer signs ID tokens with; the key set is fetched from there. Entries are
bounded in number (``MAX_ISSUERS``, LRU) and in age (``MAX_AGE``). A token naming a
``kid`` the cached set lacks (the issuer rotated its keys) triggers a new fetch, but
an issuer is fetched at most once per ``MIN_REFETCH`` seconds, whatever the number
of tokens, processes' threads or made-up ``kid``s: the attempts are serialised per
issuer (one lock stripe) and the last attempt's time is kept even when it failed.
Only issuers registered as a provider are ever fetched (the caller checks ``iss``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import KeySet

from selfiam.service.bounded import BoundedCache
from selfiam.service.oidc.fetch import FetchError, fetch_json

MAX_ISSUERS = 1_000
MAX_AGE = 3600.0
MIN_REFETCH = 60.0
_STRIPES = 64

Fetch = Callable[[str], dict[str, Any]]


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched (unreachable, or not a valid document)."""


@dataclass(frozen=True, slots=True)
class IssuerKeySet:
    keys: KeySet | None  # None: the last attempt failed and no keys were ever had
    algorithms: frozenset[str]  # id_token_signing_alg_values_supported
    fetched_at: float  # when this set was fetched or last attempted (monotonic)
    error: str | None = None
    kids: frozenset[str] = field(default=frozenset())


class IssuerKeys:
    """Per-process cache of issuers' key sets (thread-safe)."""

    def __init__(
        self,
        fetch: Fetch = fetch_json,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_issuers: int = MAX_ISSUERS,
        max_age: float = MAX_AGE,
        min_refetch: float = MIN_REFETCH,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._max_age = max_age
        self._min_refetch = min_refetch
        self._sets: BoundedCache[str, IssuerKeySet] = BoundedCache(max_issuers, max_age * 2, clock)
        self._locks = [threading.Lock() for _ in range(_STRIPES)]
        #: Fetches attempted (discovery + key set counts one), for tests and metrics.
        self.fetches = 0

    def keys_for(self, issuer: str, kid: str | None) -> IssuerKeySet:
        """The issuer's key set, fresh enough and holding ``kid`` if it can be had within
        the refetch rate; KeysUnavailable if none can be had at all."""
        with self._locks[hash(issuer) % _STRIPES]:
            now = self._clock()
            held = self._sets.get(issuer)
            if held is not None:
                young = now - held.fetched_at < self._min_refetch
                fresh = now - held.fetched_at < self._max_age
                wanted = kid is None or kid in held.kids
                if young or (fresh and wanted and held.keys is not None):
                    if held.keys is None:
                        raise KeysUnavailable(held.error or "unavailable")
                    return held
            got = self._load(issuer, now, held)
            self._sets.put(issuer, got)
            if got.keys is None:
                raise KeysUnavailable(got.error or "unavailable")
            return got

    def _load(self, issuer: str, now: float, held: IssuerKeySet | None) -> IssuerKeySet:
        self.fetches += 1
        try:
            discovery = self._fetch(issuer.rstrip("/") + "/.well-known/openid-configuration")
            if discovery.get("issuer") != issuer:
                raise FetchError("the discovery document names another issuer")
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise FetchError("the discovery document has no jwks_uri")
            algorithms = discovery.get("id_token_signing_alg_values_supported", ["RS256"])
            if not isinstance(algorithms, list):
                raise FetchError("id_token_signing_alg_values_supported is not a list")
            key_set = KeySet.import_key_set(_public_only(self._fetch(jwks_uri)))  # type: ignore[arg-type]
        except Exception as err:  # noqa: BLE001 (whatever the issuer sent, it is no key set)
            # Keep the keys we had (a rotation failing midway must not lock tokens out),
            # but count the attempt, so that failures are rate-limited too.
            if held is not None and held.keys is not None:
                return IssuerKeySet(held.keys, held.algorithms, now, None, held.kids)
            return IssuerKeySet(None, frozenset(), now, str(err) or type(err).__name__)
        kids = frozenset(k.kid for k in key_set.keys if k.kid is not None)
        return IssuerKeySet(key_set, frozenset(str(a) for a in algorithms), now, None, kids)


def _public_only(document: dict[str, Any]) -> dict[str, Any]:
    """The JWKS's keys without private members, and only signing keys."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise FetchError("the key set has no keys")
    public = []
    for key in keys[:100]:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC", "OKP"):
            continue  # symmetric ("oct") keys can never verify an issuer's token
        if key.get("use", "sig") != "sig":
            continue
        public.append({k: v for k, v in key.items() if k not in ("d", "p", "q", "dp", "dq", "qi")})
    return {"keys": public}
