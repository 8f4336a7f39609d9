"""A least-recently-used cache bounded by entries and by the size of what it holds.

The simulator keeps parsed policies across requests (the pages of one request, a CLI
batch). ``functools.lru_cache`` bounds only the number of entries, and an entry here is as
large as the request made it (a megabyte of policy text, and what it parses to): bounding
the total size keeps the memory a stream of large requests can pin to ``max_size``
(DESIGN rule 8), whatever their number.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

__all__ = ["SizedCache"]


class SizedCache(Generic[K, V]):
    """``get(key, size, make)``: the cached value, or ``make()``'s, kept if it fits."""

    def __init__(self, max_entries: int, max_size: int) -> None:
        self.max_entries = max_entries
        self.max_size = max_size
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: K, size: int, make: Callable[[], V]) -> V:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found[0]
        value = make()  # outside the lock: parsing may take a while
        if size > self.max_size:
            return value
        with self._lock:
            if key not in self._items:
                self._items[key] = (value, size)
                self._size += size
                while self._size > self.max_size or len(self._items) > self.max_entries:
                    _key, (_value, dropped) = self._items.popitem(last=False)
                    self._size -= dropped
        return value

    @property
    def size(self) -> int:
        """The total size of the entries held."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._size = 0
