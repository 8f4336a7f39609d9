"""Paged lists in the portal: IAM's own keyset markers, with Next and Previous links.

IAM's markers only go forward, so a page's link carries the trail of markers that led to
it (``trail``: the markers of the pages before, oldest first); Previous pops the last
one. The trail is bounded (``MAX_TRAIL`` markers of at most ``MAX_MARKER`` characters):
past that, the oldest entries are dropped, and Previous from the oldest page still in the
trail goes back to the first page.
A marker from the query string is the caller's input: the operation checks it, and a
forged one gets IAM's ``ValidationError: Invalid Marker.`` like any other request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from selfiam.domain.errors import AccessDenied
from selfiam.portal.web import View

PAGE_SIZE = 100
MAX_MARKER = 320
MAX_TRAIL = 40
_SEPARATOR = "~"  # never in a marker (URL-safe base64)


def _query(marker: str, trail: list[str]) -> str:
    params = {"marker": marker} if marker else {}
    if any(trail):
        params["trail"] = _SEPARATOR.join(trail[-MAX_TRAIL:])
    return "?" + urlencode(params) if params else "?"


def paged(view: View, read: Callable[[str | None], dict[str, Any]], key: str) -> dict[str, Any]:
    """One page of a listing: ``{"items", "next", "previous"}`` (query strings, or None),
    or ``{"denied": message}`` when the member may not list. ``read(marker)`` calls the
    List operation with ``MaxItems=PAGE_SIZE`` and that Marker."""
    query = view.request.query_params
    marker = query.get("marker", "")[:MAX_MARKER]
    trail = [m[:MAX_MARKER] for m in query.get("trail", "").split(_SEPARATOR)][-MAX_TRAIL:]
    if trail == [""] and not query.get("trail"):
        trail = []
    try:
        page = read(marker or None)
    except AccessDenied as denied:
        return {"denied": denied.message}
    out: dict[str, Any] = {"items": page[key], "next": None, "previous": None}
    if page.get("Marker"):
        out["next"] = _query(str(page["Marker"]), [*trail, marker])
    if marker:
        out["previous"] = _query(trail[-1] if trail else "", trail[:-1])
    return out
