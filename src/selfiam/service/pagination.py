"""IAM's Marker / MaxItems / IsTruncated pagination, as keyset pagination in SQL.

A marker is the opaque, URL-safe encoding of the sort key of the last item
returned; the next page starts strictly after it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Row, Select, bindparam
from sqlalchemy.engine import Connection

from selfiam.domain.errors import ValidationError
from selfiam.store.prepared import PreparedSelect

DEFAULT_MAX_ITEMS = 100
_PREFIX = "m1:"

T = TypeVar("T")


def encode_marker(sort_key: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + sort_key).encode()).decode()


def decode_marker(marker: str | None) -> str | None:
    if marker is None:
        return None
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError("Invalid Marker.") from None
    if not text.startswith(_PREFIX):
        raise ValidationError("Invalid Marker.")
    return text[len(_PREFIX) :]


def limit_of(params: dict[str, Any] | Any) -> int:
    """How many rows to fetch: MaxItems (default 100) plus one to detect truncation."""
    max_items = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    return int(max_items) + 1


def finish_page(
    rows: Sequence[T], params: dict[str, Any] | Any, sort_key_of: Any
) -> tuple[Sequence[T], dict[str, Any]]:
    """Cut the extra row off and return (page, {IsTruncated, Marker?})."""
    max_items = int(params.get("MaxItems") or DEFAULT_MAX_ITEMS)
    if len(rows) > max_items:
        page = rows[:max_items]
        return page, {"IsTruncated": True, "Marker": encode_marker(sort_key_of(page[-1]))}
    return rows, {"IsTruncated": False}


def page_after(
    conn: Connection, query: Any, column: Any, params: dict[str, Any] | Any
) -> tuple[Sequence[Row[Any]], dict[str, Any]]:
    """One page of ``query``'s rows ordered by ``column`` (the sort key), after the Marker."""
    after = decode_marker(params.get("Marker"))
    if after is not None:
        query = query.where(column > after)
    rows = conn.execute(query.order_by(column).limit(limit_of(params))).all()
    return finish_page(rows, params, lambda r: getattr(r, column.key))


class PreparedPage:
    """A listing run often (ListUsers, ListAccessKeys), prepared once as :func:`page_after`'s
    query: ``query`` ordered by ``column`` after a bound Marker, up to a bound limit.

    The statement is the same for every page: with no Marker it starts after ``""``,
    which every sort key (a non-empty name or id) follows.
    """

    def __init__(self, query: Select[Any], column: Any) -> None:
        self._key = column.key
        self._select = PreparedSelect(
            query.where(column > bindparam("after")).order_by(column).limit(bindparam("limit"))
        )

    def page(
        self, conn: Connection, params: dict[str, Any] | Any, values: dict[str, Any]
    ) -> tuple[Sequence[Any], dict[str, Any]]:
        """One page for the query's own parameters ``values`` and the request's Marker
        and MaxItems: (rows, {IsTruncated, Marker?})."""
        after = decode_marker(params.get("Marker")) or ""
        rows = self._select.all(conn, {**values, "after": after, "limit": limit_of(params)})
        return finish_page(rows, params, lambda r: getattr(r, self._key))
