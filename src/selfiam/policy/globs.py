"""Wildcard matching that cannot backtrack: escaped globs and ARN patterns.

An *escaped glob* (see `variables`): `*` matches any run of characters (`**` is one `*`),
`?` exactly one, and a backslash makes the next character literal. Every Action,
NotAction, Resource, NotResource, StringLike and ArnLike value is matched here.

Why not a regex: `re` backtracks, and `.*a.*a.*a.*a.*b` against 200 `a`s takes longer
than anyone waits (DESIGN rule 8: no request costs a pattern's worst case). Instead:

* the glob is split at its stars into *segments* of fixed length (literal characters and
  `?`). The first segment must match at the start of the value, the last at its end, and
  each segment in between is taken at its leftmost occurrence after the previous one.
  Leftmost is always right for a glob: the stars around a segment absorb anything, so an
  earlier occurrence leaves at least as much room for the rest as a later one.
* a literal segment is found with `str.find`. A segment with `?` of up to 64 characters
  is found with a regex made of its characters and `.` alone: without a quantifier or an
  alternative there is nothing to backtrack into, so each start position costs at most
  64 comparisons, in C. A longer one is found by a bit-parallel Shift-And scan: one
  operation per character on an integer of as many bits as the segment has characters.

Each character of the value is passed over at most once by the scans, plus once by the
two anchored comparisons, so `Glob.scan` takes at most ``len(value) + len(pattern) + 1``
steps (`Steps` counts them). A step is one character: inside `str.find` a C loop
(CPython's two-way search for long texts, at most ``len(segment)`` comparisons per
character for short ones); for a short `?` segment at most 64 comparisons; in Shift-And
one operation on a ``len(segment)``-bit integer.

ARN patterns (AWS, "Condition operators", ARN operators, and "IAM JSON policy elements:
Resource"): the six colon-separated fields `arn:partition:service:region:account:resource`
are matched separately: the ARN is split at its first five colons, so a wildcard in the
first five fields never crosses a colon, while the resource field may hold colons and a
`*` there spans them. Matching is case-sensitive. A pattern with fewer than six fields
whose last character is `*` ("arn:aws:s3:*") lets that `*` expand over the remaining
fields, as AWS documents for a `*` that ends an ARN segment; such a pattern of `k` fields
splits the ARN at its first ``k - 1`` colons.

Simple shapes skip the scan: equality, prefix, suffix and substring tests are one string
operation each; `scan` gives the same answers (tests/policy/test_globs.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import itemgetter

Matcher = Callable[[str], bool]

#: A `*` and a `?` among a glob's tokens; the other tokens are literal strings.
STAR = object()
ONE = object()
Token = str | object

#: `?` segments up to this length are found by a quantifier-free regex, longer ones by
#: Shift-And (see the module docstring).
_SHORT = 64


def tokens(glob: str) -> list[Token]:
    """Split an escaped glob into literal strings and the wildcard markers."""
    out: list[Token] = []
    buf: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "\\" and i + 1 < n:
            buf.append(glob[i + 1])
            i += 2
            continue
        if c == "*" or c == "?":
            if buf:
                out.append("".join(buf))
                buf = []
            if c == "?":
                out.append(ONE)
            elif not out or out[-1] is not STAR:  # "**" is one "*"
                out.append(STAR)
        else:
            buf.append(c)
        i += 1
    if buf:
        out.append("".join(buf))
    return out


def literal_text(glob: str) -> str | None:
    """The text an escaped glob without wildcards stands for, or None if it has some."""
    parts = tokens(glob)
    if not all(isinstance(t, str) for t in parts):
        return None
    return "".join(t for t in parts if isinstance(t, str))


def ends_with_star(glob: str) -> bool:
    parts = tokens(glob)
    return bool(parts) and parts[-1] is STAR


def always(_: str) -> bool:
    return True


def never(_: str) -> bool:
    return False


class Steps:
    """A matcher's work, counted for tests and benchmarks (see the module docstring)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class _Literal:
    """A segment without `?`."""

    __slots__ = ("text", "length")

    def __init__(self, text: str) -> None:
        self.text = text
        self.length = len(text)

    def at(self, value: str, i: int) -> bool:
        return value.startswith(self.text, i)

    def find(self, value: str, start: int, stop: int) -> int:
        return value.find(self.text, start, stop)


class _Wild:
    """A segment with `?`: literal pieces at fixed offsets; a quantifier-free regex or
    Shift-And masks to find it.

    Shift-And: bit `k` of a character's mask is set when the segment's `k`-th character is
    that character or `?`; the scan's state has bit `k` set when the segment's first
    `k + 1` characters match the text ending at the current character.
    """

    __slots__ = ("length", "pieces", "masks", "any", "last", "search")

    def __init__(self, chars: Sequence[str | None]) -> None:
        self.length = len(chars)
        pieces: list[tuple[int, str]] = []
        masks: dict[str, int] = {}
        anything = 0
        for k, c in enumerate(chars):
            if c is None:
                anything |= 1 << k
                continue
            masks[c] = masks.get(c, 0) | 1 << k
            if pieces and pieces[-1][0] + len(pieces[-1][1]) == k:
                pieces[-1] = (pieces[-1][0], pieces[-1][1] + c)
            else:
                pieces.append((k, c))
        self.pieces = tuple(pieces)
        self.any = anything
        self.masks = {c: m | anything for c, m in masks.items()}
        self.last = 1 << (self.length - 1)
        self.search: Callable[[str, int, int], re.Match[str] | None] | None = None
        if self.length <= _SHORT:
            text = "".join("." if c is None else re.escape(c) for c in chars)
            self.search = re.compile(text, re.DOTALL).search

    def at(self, value: str, i: int) -> bool:
        """Whether the segment matches at `i` (the caller knows the value is long enough)."""
        for offset, text in self.pieces:  # noqa: SIM110 - cheaper than all(genexpr)
            if not value.startswith(text, i + offset):
                return False
        return True

    def find(self, value: str, start: int, stop: int) -> int:
        """The leftmost `i` in [start, stop - length] where the segment matches, or -1."""
        if self.search is not None:
            found = self.search(value, start, stop)
            return -1 if found is None else found.start()
        get, anything, last = self.masks.get, self.any, self.last
        state = 0
        for j in range(start, stop):
            state = ((state << 1) | 1) & get(value[j], anything)
            if state & last:
                return j - self.length + 1
        return -1


_Segment = _Literal | _Wild


def _segments(parts: list[Token]) -> list[_Segment]:
    """The glob's segments: one more than it has stars (empty ones at a leading/trailing `*`)."""
    out: list[_Segment] = []
    chars: list[str | None] = []
    for token in [*parts, STAR]:
        if token is STAR:
            if None in chars:
                out.append(_Wild(chars))
            else:
                out.append(_Literal("".join(c for c in chars if c is not None)))
            chars = []
        elif token is ONE:
            chars.append(None)
        else:
            chars.extend(str(token))
    return out


class Glob:
    """A compiled escaped glob. `match` is the matcher to use; `scan` can count its steps."""

    __slots__ = ("text", "ignore_case", "segments", "min_length", "match")

    def __init__(self, glob: str, ignore_case: bool = False) -> None:
        self.text = glob
        self.ignore_case = ignore_case
        parts = tokens(glob)
        if ignore_case:
            parts = [t.lower() if isinstance(t, str) else t for t in parts]
        self.segments = tuple(_segments(parts))
        self.min_length = sum(s.length for s in self.segments)
        fast = _fast_path(parts)
        if fast is not None and ignore_case:
            base = fast
            fast = lambda s: base(s.lower())  # noqa: E731
        self.match: Matcher = fast if fast is not None else self.scan

    def scan(self, value: str, steps: Steps | None = None) -> bool:
        """Whether the whole of `value` matches, without backtracking (see the module doc)."""
        if self.ignore_case:
            value = value.lower()
        segments = self.segments
        n = len(value)
        if steps is not None:
            steps.count += len(segments) + (n if self.ignore_case else 0)
        if n < self.min_length:
            return False
        first = segments[0]
        if len(segments) == 1:
            if steps is not None:
                steps.count += n
            return n == first.length and first.at(value, 0)
        last = segments[-1]
        tail = n - last.length
        if steps is not None:
            steps.count += first.length + last.length
        if not (first.at(value, 0) and last.at(value, tail)):
            return False
        pos = first.length
        for segment in segments[1:-1]:
            found = segment.find(value, pos, tail)
            if steps is not None:
                steps.count += (tail if found < 0 else found + segment.length) - pos
            if found < 0:
                return False
            pos = found + segment.length
        return True

    def __repr__(self) -> str:
        return f"Glob({self.text!r}, ignore_case={self.ignore_case})"


def _fast_path(parts: list[Token]) -> Matcher | None:
    """One string operation for equality, prefix, suffix and substring shapes."""
    shape = tuple(t if t is STAR or t is ONE else "L" for t in parts)
    lits = [t for t in parts if isinstance(t, str)]
    if shape == ():
        return "".__eq__
    if shape == ("L",):
        return lits[0].__eq__
    if shape == (STAR,):
        return always
    if shape == ("L", STAR):
        prefix = lits[0]
        return lambda s: s.startswith(prefix)
    if shape == (STAR, "L"):
        suffix = lits[0]
        return lambda s: s.endswith(suffix)
    if shape == (STAR, "L", STAR):
        infix = lits[0]
        return lambda s: infix in s
    return None


@lru_cache(maxsize=8192)
def compile_glob(glob: str, ignore_case: bool = False) -> Matcher:
    """A predicate testing a whole string against an escaped glob (cached)."""
    return Glob(glob, ignore_case).match


class ArnGlob:
    """A compiled ARN pattern (an escaped glob), matched field by field."""

    __slots__ = ("text", "fields", "_empty", "_pick", "_literals", "_checks", "match")

    def __init__(self, glob: str) -> None:
        self.text = glob
        texts = glob.split(":", 5)
        self.fields = tuple(Glob(f) for f in texts)
        #: A short pattern whose last field does not end in `*` matches no ARN.
        self._empty = len(texts) < 6 and not ends_with_star(texts[-1])
        literal = [(i, literal_text(f)) for i, f in enumerate(texts[:-1])]
        known = [(i, text) for i, text in literal if text is not None]
        self._pick: Callable[[list[str]], object] | None = None
        self._literals: object = None
        if known:
            self._pick = itemgetter(*(i for i, _ in known))
            values = tuple(text for _, text in known)
            self._literals = values if len(values) > 1 else values[0]
        self._checks = tuple(
            (i, field.match)
            for i, field in enumerate(self.fields)
            if (i == len(texts) - 1 or literal[i][1] is None) and field.match is not always
        )
        self.match: Matcher = never if self._empty else self._match

    def _match(self, arn: str) -> bool:
        count = len(self.fields)
        parts = arn.split(":", count - 1)
        if len(parts) != count:
            return False
        pick = self._pick
        if pick is not None and pick(parts) != self._literals:
            return False
        for i, match in self._checks:  # noqa: SIM110 - cheaper than all(genexpr)
            if not match(parts[i]):
                return False
        return True

    def scan(self, arn: str, steps: Steps | None = None) -> bool:
        """The same answer as `match`, each field by `Glob.scan` (so its steps are counted)."""
        if self._empty:
            return False
        count = len(self.fields)
        parts = arn.split(":", count - 1)
        if steps is not None:
            steps.count += len(arn) + count
        if len(parts) != count:
            return False
        return all(f.scan(p, steps) for f, p in zip(self.fields, parts, strict=True))

    def __repr__(self) -> str:
        return f"ArnGlob({self.text!r})"


@lru_cache(maxsize=8192)
def compile_arn_glob(glob: str) -> Matcher:
    """A predicate testing an ARN against an escaped-glob ARN pattern, field by field."""
    if glob == "*":
        return always
    fields = glob.split(":", 5)
    if len(fields) < 6 and not ends_with_star(fields[-1]):
        return never  # not an ARN pattern: it can match no ARN
    head = [literal_text(f) for f in fields[:-1]]
    if head and all(h is not None for h in head):
        # Literal partition/service/region/account: one prefix test, then the rest.
        prefix = ":".join(h for h in head if h is not None) + ":"
        size = len(prefix)
        last = compile_glob(fields[-1])
        return lambda arn: arn.startswith(prefix) and last(arn[size:])
    return ArnGlob(glob).match
