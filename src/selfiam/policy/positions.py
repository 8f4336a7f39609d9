"""Where things are in a policy's JSON text: statement spans and duplicate keys.

`json.loads` tells us what a document says but not where; SimulateCustomPolicy reports each
matched statement's start and end position, and a duplicate-key error is more useful with a
line number. This is a tiny iterative scanner run once per parse over text `json.loads` has
already accepted (so it may trust the syntax), and it never recurses, so no nesting depth
can break it.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass, field

Position = tuple[int, int]


@dataclass(slots=True)
class _Frame:
    kind: str  # "{" or "["
    role: str  # "root", "statements", "statement" or ""
    start: int
    expect_key: bool
    key: str | None = None
    keys: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class TextLayout:
    """Offsets of the statement objects and the first duplicate key, plus line lookup."""

    statement_spans: tuple[tuple[int, int], ...]
    duplicate_key: tuple[str, int] | None
    newlines: tuple[int, ...]

    def position(self, offset: int) -> Position:
        """1-based (line, column) of a character offset."""
        line = bisect_right(self.newlines, offset)
        line_start = self.newlines[line - 1] + 1 if line else 0
        return (line + 1, offset - line_start + 1)


def _string_end(text: str, start: int) -> int:
    """Offset of the closing quote of the JSON string opening at `start`."""
    j = start + 1
    while True:
        k = text.find('"', j)
        if k < 0:
            return len(text) - 1
        b = k - 1
        while text[b] == "\\":
            b -= 1
        if (k - 1 - b) % 2 == 0:
            return k
        j = k + 1


def scan(text: str) -> TextLayout:
    """Find the statement objects (the top-level "Statement" value, or each object in it)."""
    spans: list[tuple[int, int]] = []
    duplicate: tuple[str, int] | None = None
    stack: list[_Frame] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            end = _string_end(text, i)
            top = stack[-1] if stack else None
            if top is not None and top.kind == "{" and top.expect_key:
                try:
                    key = json.loads(text[i : end + 1])
                except ValueError:
                    key = text[i + 1 : end]
                if not isinstance(key, str):
                    key = str(key)
                if key in top.keys and duplicate is None:
                    duplicate = (key, i)
                top.keys.add(key)
                top.key = key
                top.expect_key = False
            i = end + 1
            continue
        if c == "{" or c == "[":
            parent = stack[-1] if stack else None
            role = ""
            if parent is None:
                role = "root"
            elif parent.role == "root" and parent.key == "Statement":
                role = "statements" if c == "[" else "statement"
            elif parent.role == "statements" and c == "{":
                role = "statement"
            stack.append(_Frame(c, role, i, c == "{"))
        elif c == "}" or c == "]":
            if stack:
                frame = stack.pop()
                if frame.role == "statement":
                    spans.append((frame.start, i))
        elif c == "," and stack and stack[-1].kind == "{":
            stack[-1].expect_key = True
        i += 1
    newlines = tuple(k for k, ch in enumerate(text) if ch == "\n")
    return TextLayout(tuple(spans), duplicate, newlines)
