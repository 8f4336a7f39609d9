"""One bounded cache for every in-process cache a request can add to (DESIGN rule 8).

``BoundedCache`` holds at most ``max_entries`` entries, drops the least recently
used one to make room, and forgets an entry ``max_age`` seconds after it was
stored, so memory is released even when no new key arrives. Reads take no lock
(one dict lookup, one clock read and an O(1) move to the end); writes do.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A mapping bounded in size (LRU eviction) and in the age of its entries."""

    __slots__ = ("max_entries", "max_age", "_clock", "_data", "_lock")

    def __init__(
        self,
        max_entries: int,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_age <= 0:
            raise ValueError("a bounded cache needs max_entries >= 1 and max_age > 0")
        self.max_entries = max_entries
        self.max_age = max_age
        self._clock = clock
        self._data: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value stored for ``key``, or None if absent or older than ``max_age``."""
        data = self._data
        item = data.get(key)
        if item is None:
            return None
        if self._clock() - item[1] > self.max_age:
            with self._lock:
                if data.get(key) is item:
                    del data[key]
            return None
        try:  # noqa: SIM105 (contextlib.suppress costs a call on the hot path)
            data.move_to_end(key)
        except KeyError:  # evicted meanwhile by another thread: the value is still right
            pass
        return item[0]

    def __getitem__(self, key: K) -> V:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` (its age starts now), evicting the least recently used beyond the bound."""
        with self._lock:
            data = self._data
            data[key] = (value, self._clock())
            data.move_to_end(key)
            while len(data) > self.max_entries:
                data.popitem(last=False)

    def pop(self, key: K) -> None:
        """Forget ``key`` (no error if absent)."""
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def values(self) -> list[V]:
        """A snapshot of the values held (expired ones included until they are read)."""
        with self._lock:
            return [value for value, _ in self._data.values()]

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data
