"""Parse each policy document once per process (DESIGN rule 2: evaluation never re-parses)."""

from __future__ import annotations

from functools import lru_cache

from selfiam.policy import Policy, PolicyKind, parse_policy


@lru_cache(maxsize=8192)
def compiled_policy(document: str, kind: PolicyKind, policy_id: str) -> Policy:
    """The compiled form of a stored (hence already validated) document.

    Bounded to 8,192 entries (LRU); no age bound: keyed by the document's text, an
    entry can never be stale. Only stored documents, loaded for authenticated callers,
    reach it, so a request cannot fill it with texts of its own.
    """
    return parse_policy(document, kind, policy_id=policy_id)
