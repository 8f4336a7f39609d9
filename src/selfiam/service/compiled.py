"""Parse each policy document once per process (DESIGN rule 2: evaluation never re-parses)."""

from __future__ import annotations

from selfiam.policy import Policy, PolicyKind, parse_policy
from selfiam.service.simulation_cache import SizedCache

#: At most 8,192 documents and 64 MiB of their text: an account's stored documents
#: (up to 131,072 characters each) cannot pin more than that, however many there are.
_COMPILED: SizedCache[tuple[str, PolicyKind, str], Policy] = SizedCache(8192, 64 << 20)


def compiled_policy(document: str, kind: PolicyKind, policy_id: str) -> Policy:
    """The compiled form of a stored (hence already validated) document.

    Bounded by entries and by text size (LRU); no age bound: keyed by the document's
    text, an entry can never be stale. Only stored documents, loaded for authenticated
    callers, reach it, so a request cannot fill it with texts of its own.
    """
    return _COMPILED.get(
        (document, kind, policy_id),
        len(document),
        lambda: parse_policy(document, kind, policy_id=policy_id),
    )
