"""The request context: what the policy engine knows about one request.

Keys are case-insensitive (AWS: "Key names are case-insensitive. For example,
`aws:CurrentTime` is equivalent to `AWS:currenttime`"), so values are stored
under the lowercased key; the spelling first given is kept for display.

Every value is a tuple of strings, because condition operators compare string
forms and any key may be multivalued (`aws:TagKeys`). Booleans become
"true"/"false", numbers their decimal text and datetimes ISO 8601 in UTC, which
is how AWS puts them into the request context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeAlias

ContextValue: TypeAlias = str | bool | int | float | datetime | Sequence[str | bool | int | float]


def _scalar_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(f"unsupported request context value {value!r}")


def normalize_value(value: ContextValue) -> tuple[str, ...]:
    """Turn one context value into the tuple of strings the engine compares."""
    if isinstance(value, str | bool | int | float | datetime):
        return (_scalar_text(value),)
    return tuple(_scalar_text(item) for item in value)


class RequestContext:
    """Request context keys -> tuple of string values; key lookup is case-insensitive."""

    __slots__ = ("_names", "_values", "lookup")

    def __init__(self, values: Mapping[str, ContextValue] | None = None) -> None:
        self._values: dict[str, tuple[str, ...]] = {}
        self._names: dict[str, str] = {}
        if values:
            for key, value in values.items():
                lowered = key.lower()
                self._values[lowered] = normalize_value(value)
                self._names.setdefault(lowered, key)
        #: `get` for an already-lowercased key, as a bare dict lookup (the hot path).
        self.lookup: Callable[[str], tuple[str, ...] | None] = self._values.get

    def get(self, key: str) -> tuple[str, ...] | None:
        """The values of `key`, or None when the request does not carry it."""
        return self._values.get(key.lower())

    def get_normalized(self, lowered_key: str) -> tuple[str, ...] | None:
        """Like `get`, for a key the caller has already lowercased (the hot path)."""
        return self._values.get(lowered_key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._values

    def with_values(self, extra: Mapping[str, ContextValue]) -> RequestContext:
        """A copy with more keys; a key given again replaces the earlier value."""
        copy = RequestContext()
        copy._values.update(self._values)
        copy._names.update(self._names)
        for key, value in extra.items():
            lowered = key.lower()
            copy._values[lowered] = normalize_value(value)
            copy._names[lowered] = key
        return copy

    def keys(self) -> Iterable[str]:
        """The keys, spelled as they were given."""
        return list(self._names.values())

    def items(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        for lowered, name in self._names.items():
            yield name, self._values[lowered]

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RequestContext) and self._values == other._values

    def __hash__(self) -> int:
        return hash(frozenset(self._values.items()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name!r}: {self._values[k]!r}" for k, name in self._names.items())
        return f"RequestContext({{{shown}}})"
