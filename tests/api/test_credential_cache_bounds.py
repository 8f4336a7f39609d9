"""Finding 2: an anonymous client must not grow the credential cache (DESIGN rule 8).

A key id is not secret, so anyone can send requests naming a real key with a bad
signature: those must leave every cache as it was, and a scope naming a region
AWS does not have must be refused before any key is looked up or derived.
"""

from __future__ import annotations

from selfiam.auth.sigv4 import regions
from selfiam.service.authn import MAX_SCOPES, CredentialCache

from .conftest import Api, error_code, error_message

WHO_AM_I = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
#: Regions that really exist, so that only the signature is wrong.
REAL_REGIONS = sorted(regions())


def test_bad_signatures_in_many_regions_cache_nothing(api: Api) -> None:
    status, _ = api.send(WHO_AM_I)
    assert status == 200
    before = api.runtime.credentials.sizes()
    assert before[:2] == (1, 1)
    for region in REAL_REGIONS:
        for service in ("sts", "iam"):
            status, text = api.send(WHO_AM_I, service=service, region=region, secret="x" * 40)
            assert (status, error_code(text)) == (403, "SignatureDoesNotMatch")
    assert api.runtime.credentials.sizes() == before


def test_a_bad_signature_from_a_key_not_cached_yet_caches_nothing(api: Api) -> None:
    other_id, _ = api.new_key("bob")
    status, text = api.send(WHO_AM_I, key_id=other_id, secret="x" * 40)
    assert (status, error_code(text)) == (403, "SignatureDoesNotMatch")
    assert api.runtime.credentials.sizes() == (0, 0, 0, 0)


def test_an_unknown_region_is_refused_before_the_key_is_looked_up(api: Api) -> None:
    # A key id that does not exist: had the key been looked up first, the answer
    # would be InvalidClientTokenId.
    for key_id in ("AKIAUNKNOWNUNKNOWN00", api.key_id):
        status, text = api.send(WHO_AM_I, region="x" * 300, key_id=key_id, secret="x" * 40)
        assert status == 403
        assert error_code(text) == "SignatureDoesNotMatch"
        assert error_message(text) == (
            f"Credential should be scoped to a valid region, not '{'x' * 300}'. "
        )
    # Not even the real key's secret was opened and kept.
    assert api.runtime.credentials.sizes() == (0, 0, 0, 0)


def test_signing_keys_per_access_key_stay_bounded(api: Api) -> None:
    for region in REAL_REGIONS[: MAX_SCOPES + 4]:
        status, _ = api.send(WHO_AM_I, region=region)
        assert status == 200
    keys, scopes, _, _ = api.runtime.credentials.sizes()
    assert (keys, scopes) == (1, MAX_SCOPES)


def test_access_keys_and_key_uses_stay_bounded(api: Api) -> None:
    api.runtime.credentials = CredentialCache(
        api.runtime.box, api.runtime.invalidation, max_keys=2, max_key_uses=3
    )
    users = [api.new_key(f"user{n}") for n in range(4)]
    for key_id, secret in users:
        for region in ("us-east-1", "eu-west-1"):
            status, _ = api.send(WHO_AM_I, key_id=key_id, secret=secret, region=region)
            assert status == 200
    keys, scopes, uses, latest = api.runtime.credentials.sizes()
    assert keys == 2 and scopes <= 2 * MAX_SCOPES
    assert uses == 3 and latest == 3
    # The most recently used key is the one kept.
    status, _ = api.send(WHO_AM_I, key_id=users[-1][0], secret=users[-1][1])
    assert status == 200 and api.runtime.credentials.sizes()[0] == 2
