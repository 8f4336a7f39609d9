"""The simulator's parse caches are bounded by the policy text they hold, not only by count."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from selfiam.service import simulate
from selfiam.service.simulation_cache import SizedCache


def test_sized_cache_evicts_the_oldest_past_its_size() -> None:
    cache: SizedCache[str, str] = SizedCache(max_entries=3, max_size=10)
    made: list[str] = []

    def make(value: str) -> str:
        made.append(value)
        return value

    assert cache.get("a", 4, lambda: make("A")) == "A"
    assert cache.get("b", 4, lambda: make("B")) == "B"
    assert cache.get("a", 4, lambda: make("A2")) == "A"  # hit: "a" is now the newest
    assert cache.get("c", 4, lambda: make("C")) == "C"  # 12 > 10: "b" goes
    assert (len(cache), cache.size) == (2, 8)
    assert cache.get("b", 4, lambda: make("B2")) == "B2"  # made again; "a" goes
    assert cache.get("huge", 11, lambda: make("H")) == "H"  # never kept
    assert cache.get("huge", 11, lambda: make("H2")) == "H2"
    assert made == ["A", "B", "C", "B2", "H", "H2"]
    assert cache.size <= 10 and len(cache) <= 3
    for n in range(10):
        cache.get(f"k{n}", 1, lambda: "v")
    assert len(cache) == 3


def test_large_distinct_requests_do_not_pin_more_than_the_bound() -> None:
    """Eight requests of 5 distinct 120 kB policies (4.8 MB of text): the caches keep at most
    4 MiB of parsed text and 2 MiB of indexed lists (an lru_cache kept all of it)."""
    simulate.clear_caches()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for request in range(8):
        policies = []
        for n in range(5):
            statement = {"Sid": f"r{request}p{n}", "Effect": "Allow", "Action": "s3:*",
                         "Resource": "*"}  # fmt: skip
            text = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
            policies.append(text[:-1] + " " * 120_000 + "}")
        response = simulate.simulate_custom_policy(
            {"PolicyInputList": policies, "ActionNames": ["s3:GetObject"]}, now=now
        )
        assert response["EvaluationResults"][0]["EvalDecision"] == "allowed"
        assert simulate._PARSED.size <= 4 << 20
        assert simulate._SETS.size <= 2 << 20
    assert len(simulate._SETS) >= 1  # the last list is still there for its next page
