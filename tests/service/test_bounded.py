"""The bounded cache every request-filled cache uses, and the principal policy cache."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from selfiam.service.audit import AuditRecord, AuditWriter, read_records
from selfiam.service.bounded import BoundedCache
from selfiam.service.caller import Caller
from selfiam.service.runtime import Runtime

from .conftest import ACCOUNT, Call


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_goes_first() -> None:
    cache: BoundedCache[int, str] = BoundedCache(3, 60)
    for n in range(3):
        cache.put(n, str(n))
    assert cache.get(0) == "0"  # 0 is now the most recent
    cache.put(3, "3")
    assert len(cache) == 3 and 1 not in cache
    assert [cache.get(n) for n in (0, 2, 3)] == ["0", "2", "3"]


def test_many_distinct_keys_never_exceed_the_bound() -> None:
    cache: BoundedCache[int, int] = BoundedCache(100, 60)
    for n in range(10_000):
        cache.put(n, n)
        assert len(cache) <= 100
    assert sorted(cache.values()) == list(range(9_900, 10_000))


def test_entries_expire_after_max_age() -> None:
    ticks = Ticks()
    cache: BoundedCache[str, int] = BoundedCache(10, 30, clock=ticks)
    cache.put("a", 1)
    ticks.now = 30
    assert cache.get("a") == 1
    ticks.now = 30.5
    assert cache.get("a") is None and len(cache) == 0
    with pytest.raises(KeyError):
        cache["a"]


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BoundedCache(0, 1)
    with pytest.raises(ValueError):
        BoundedCache(1, 0)


def test_principal_policy_cache_stays_bounded(
    runtime: Runtime, call: Call, caller_for: Callable[[str], Caller]
) -> None:
    runtime._principals = BoundedCache(2, 60)
    call("CreatePolicy", PolicyName="read", PolicyDocument=_READ)
    for n in range(5):
        call("CreateUser", UserName=f"u{n}")
        call("AttachUserPolicy", UserName=f"u{n}", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/read")
    for n in range(5):
        call("GetUser", UserName=f"u{n}", caller=caller_for(f"u{n}"))
        assert len(runtime._principals) <= 2
    assert len(runtime._principals) == 2


_READ = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}}'


def test_audit_queue_is_bounded_and_loses_nothing(runtime: Runtime) -> None:
    writer = AuditWriter(runtime.engine, max_queued=5)
    now = runtime.clock()
    for n in range(60):
        writer.submit(
            AuditRecord(
                now,
                f"bounded-{n}",
                ACCOUNT,
                None,
                "iam:GetUser",
                None,
                "error",
                "AccessDenied",
                "127.0.0.1",
                None,
            )
        )
        assert writer._queue.qsize() <= 5
    writer.flush()
    written = read_records(runtime.engine, action="iam:GetUser", limit=100)
    assert sorted(r.request_id for r in written) == sorted(f"bounded-{n}" for n in range(60))
