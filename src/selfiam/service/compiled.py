"""Parse each policy document once per process (DESIGN rule 2: evaluation never re-parses)."""

from __future__ import annotations

from selfiam.policy import Policy, PolicyKind, parse_policy
from selfiam.service.simulation_cache import SizedCache

#: A compiled policy holds about 14 bytes of Python objects per character of its text
#: (measured over all of AWS's managed policies: 3.2 MB of text compile to 45 MB), so an
#: entry is weighed as its text times this.
COMPILED_BYTES_PER_CHAR = 16
#: At most 8,192 documents and an estimated 256 MiB of compiled policies (about 16 MiB of
#: text: every AWS managed policy at once fits, 3.2 MB), however many documents an account
#: stores or attaches.
MAX_COMPILED_BYTES = 256 << 20
_COMPILED: SizedCache[tuple[str, PolicyKind, str], Policy] = SizedCache(8192, MAX_COMPILED_BYTES)


def compiled_policy(document: str, kind: PolicyKind, policy_id: str) -> Policy:
    """The compiled form of a stored (hence already validated) document.

    Bounded by entries and by estimated memory (LRU); no age bound: keyed by the
    document's text, an entry can never be stale. Only stored documents, loaded for
    authenticated callers, reach it, so a request cannot fill it with texts of its own.
    Their size was checked when they were stored, except AWS's managed policies, which no
    quota binds (ReadOnlyAccess is ~90,000 characters): the size is not checked again.
    """
    return _COMPILED.get(
        (document, kind, policy_id),
        len(document) * COMPILED_BYTES_PER_CHAR,
        lambda: parse_policy(document, kind, policy_id=policy_id, enforce_size=False),
    )
