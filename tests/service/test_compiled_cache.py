"""The process-wide cache of compiled stored policies is bounded by its text, not only by
its number of entries (DESIGN rule 8)."""

from __future__ import annotations

import json

from selfiam.policy import PolicyKind
from selfiam.service import compiled


def _document(n: int, padding: int) -> str:
    statement = {"Sid": f"S{n}", "Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": statement}) + " " * padding


def test_a_document_is_compiled_once() -> None:
    text = _document(1, 0)
    first = compiled.compiled_policy(text, PolicyKind.MANAGED, "p")
    assert compiled.compiled_policy(text, PolicyKind.MANAGED, "p") is first


def test_the_cache_holds_at_most_its_text_bound(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    small = compiled.SizedCache(8192, 10_000)
    monkeypatch.setattr(compiled, "_COMPILED", small)
    for n in range(50):
        compiled.compiled_policy(_document(n, 1_000), PolicyKind.MANAGED, f"p{n}")
    assert small.size <= 10_000
    assert len(small) < 50
