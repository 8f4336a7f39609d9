"""The wildcard matchers agree with a plain reference matcher, and their work is bounded.

References (small inputs only): a memoized dynamic program over the glob's characters, and
for ARN patterns the same program with wildcards that cannot match a colon in the first
five fields. The matchers under test: `compile_glob` / `compile_arn_glob` (what policies
use, fast paths included), `Glob.scan` and `ArnGlob.scan` (the general scan, which counts
its steps).

Step bounds (see `selfiam.policy.globs`): `Glob.scan` takes at most
``len(value) + len(pattern) + 1`` steps (``2 * len(value.lower()) + len(pattern) + 1``
ignoring case), `ArnGlob.scan`
at most ``2 * len(arn) + len(pattern) + 12``.
"""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from selfiam.policy.globs import ArnGlob, Glob, Steps, compile_arn_glob, compile_glob

_STAR = "*"
_ONE = "?"


def _chars(glob: str, colon_free: bool = False) -> list[tuple[str, str | None, bool]]:
    """(kind, literal, may match a colon) per glob character: kind is "lit", "*" or "?"."""
    out: list[tuple[str, str | None, bool]] = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "\\" and i + 1 < len(glob):
            out.append(("lit", glob[i + 1], True))
            i += 2
            continue
        if c in "*?":
            out.append((c, None, not colon_free))
        else:
            out.append(("lit", c, True))
        i += 1
    return out


def _dp(items: list[tuple[str, str | None, bool]], value: str) -> bool:
    @cache
    def match(i: int, j: int) -> bool:
        if i == len(items):
            return j == len(value)
        kind, literal, colons = items[i]
        if kind == _STAR:
            if match(i + 1, j):
                return True
            return j < len(value) and (colons or value[j] != ":") and match(i, j + 1)
        if j == len(value):
            return False
        if kind == _ONE:
            return (colons or value[j] != ":") and match(i + 1, j + 1)
        return literal == value[j] and match(i + 1, j + 1)

    return match(0, 0)


def reference(glob: str, value: str, ignore_case: bool = False) -> bool:
    items = _chars(glob)
    if ignore_case:
        lowered: list[tuple[str, str | None, bool]] = []
        for kind, literal, colons in items:
            if literal is None:
                lowered.append((kind, literal, colons))
            else:
                lowered += [("lit", c, True) for c in literal.lower()]
        items, value = lowered, value.lower()
    return _dp(items, value)


def arn_reference(glob: str, arn: str) -> bool:
    """The ARN pattern as one glob whose first fields' wildcards match no colon."""
    fields = glob.split(":", 5)
    last = _chars(fields[-1])
    if len(fields) < 6 and not (last and last[-1][0] == _STAR):
        return False
    items: list[tuple[str, str | None, bool]] = []
    for field in fields[:-1]:
        items += _chars(field, colon_free=True)
        items.append(("lit", ":", True))
    return _dp(items + last, arn)


def _scan(glob: str, value: str, ignore_case: bool = False) -> tuple[bool, int]:
    steps = Steps()
    return Glob(glob, ignore_case).scan(value, steps), steps.count


def _arn_scan(glob: str, arn: str) -> tuple[bool, int]:
    steps = Steps()
    return ArnGlob(glob).scan(arn, steps), steps.count


def glob_bound(glob: str, value: str, ignore_case: bool = False) -> int:
    if ignore_case:
        return 2 * len(value.lower()) + len(glob) + 1  # lowering, then the scan
    return len(value) + len(glob) + 1


def arn_bound(glob: str, arn: str) -> int:
    return 2 * len(arn) + len(glob) + 12


# -- agreement with the reference --------------------------------------------------------

_GLOB = st.text(alphabet="ab*?\\:", max_size=14)
_VALUE = st.text(alphabet="ab*?\\:", max_size=14)


@settings(max_examples=1500)
@given(_GLOB, _VALUE)
@example("*a*a*b", "aaab")
@example("a\\*b", "a*b")
@example("a\\", "a\\")
@example("**?", "")
@example("*?a?*", "ba:b")
def test_glob_agrees_with_reference(glob: str, value: str) -> None:
    expected = reference(glob, value)
    assert compile_glob(glob)(value) is expected
    matched, steps = _scan(glob, value)
    assert matched is expected
    assert steps <= glob_bound(glob, value)


@settings(max_examples=800)
@given(st.text(alphabet="aAbB*?\\İK", max_size=12), st.text(alphabet="aAbBıiİKk", max_size=12))
def test_ignore_case_glob_agrees_with_reference(glob: str, value: str) -> None:
    expected = reference(glob, value, ignore_case=True)
    assert compile_glob(glob, True)(value) is expected
    matched, steps = _scan(glob, value, True)
    assert matched is expected
    assert steps <= glob_bound(glob, value, True)


@st.composite
def _long_segments(draw: st.DrawFn) -> tuple[str, str]:
    """A glob with `?` segments of more than 64 characters, and a value near a match."""
    segments = draw(
        st.lists(st.text(alphabet="ab?", min_size=65, max_size=80), min_size=1, max_size=3)
    )
    gaps = draw(
        st.lists(
            st.text(alphabet="ab", max_size=3),
            min_size=len(segments) + 1,
            max_size=len(segments) + 1,
        )
    )
    stars = draw(st.tuples(st.booleans(), st.booleans()))
    glob = ("*" if stars[0] else "") + "*".join(segments) + ("*" if stars[1] else "")
    filled = [seg.replace("?", draw(st.sampled_from("ab"))) for seg in segments]
    value = gaps[0] + "".join(f + g for f, g in zip(filled, gaps[1:], strict=True))
    flip = draw(st.integers(0, len(value)))
    if draw(st.booleans()) and flip < len(value):
        value = value[:flip] + ("a" if value[flip] == "b" else "b") + value[flip + 1 :]
    return glob, value


@settings(max_examples=400)
@given(_long_segments())
def test_long_question_mark_segments_agree_with_reference(pair: tuple[str, str]) -> None:
    # Segments of more than 64 characters with `?` take the Shift-And scan; shorter ones
    # (every other property here) the quantifier-free regex.
    glob, value = pair
    expected = reference(glob, value)
    assert compile_glob(glob)(value) is expected
    matched, steps = _scan(glob, value)
    assert matched is expected
    assert steps <= glob_bound(glob, value)


@st.composite
def _values_near(draw: st.DrawFn, glob: st.SearchStrategy[str]) -> tuple[str, str]:
    """A glob and a value made from it (wildcards filled), so that matches are common."""
    text = draw(glob)
    fill = draw(st.sampled_from(["", "a", "b:", "ab", ":"]))
    value = text.replace("\\", "").replace("*", fill).replace("?", fill[:1] or "a")
    return text, draw(st.sampled_from([value, value + "a", value[1:], "a" + value]))


@settings(max_examples=800)
@given(_values_near(_GLOB))
def test_glob_agrees_near_matches(pair: tuple[str, str]) -> None:
    glob, value = pair
    assert compile_glob(glob)(value) is reference(glob, value)
    assert _scan(glob, value)[0] is reference(glob, value)


_ARN_GLOB = st.one_of(
    st.text(alphabet="ab:*?\\", max_size=16),
    st.text(alphabet="ab:*?\\", max_size=12).map(lambda t: "arn:" + t),
    st.tuples(*[st.sampled_from(["", "a", "*", "?", "a*", "*a*b", "\\*", "a\\"])] * 5).map(
        lambda f: "arn:" + ":".join(f)
    ),
)
_ARN = st.one_of(
    st.text(alphabet="ab:*?\\", max_size=16),
    st.text(alphabet="ab:", max_size=12).map(lambda t: "arn:" + t),
)


@settings(max_examples=1500)
@given(_ARN_GLOB, _ARN)
@example("arn:aws:s3:*", "arn:aws:s3:r:1:b/k")
@example("arn:a:b", "arn:a:b")
@example("arn:a:b:c:d\\:e", "arn:a:b:c:d\\:e")
@example("*", "a:b:c")
@example("arn:*:b::*a*b:k", "arn:x:b::aab:k")
def test_arn_glob_agrees_with_reference(glob: str, arn: str) -> None:
    expected = arn_reference(glob, arn)
    assert compile_arn_glob(glob)(arn) is expected
    assert ArnGlob(glob).match(arn) is expected
    matched, steps = _arn_scan(glob, arn)
    assert matched is expected
    assert steps <= arn_bound(glob, arn)


@settings(max_examples=800)
@given(_values_near(_ARN_GLOB))
def test_arn_glob_agrees_near_matches(pair: tuple[str, str]) -> None:
    glob, arn = pair
    expected = arn_reference(glob, arn)
    assert compile_arn_glob(glob)(arn) is expected
    assert ArnGlob(glob).match(arn) is expected


# -- worst cases: 2,000-character values, steps counted -----------------------------------

_N = 2000
_MANY_STARS = "*a*a*a*a*a*b"
_ONE_STAR_ONE = "?*" * 40 + "b"
_HEAD = "arn:aws:iam:*a*a*a*a*b:*:user/x"
_WILD_SEGMENT = "*a?a?a?a?a?b*"
_LONG_WILD_SEGMENT = "*" + "a?" * 40 + "b*"  # more than 64 characters: Shift-And

GLOB_CASES = [
    # (pattern, value, matches)
    (_MANY_STARS, "a" * _N, False),
    (_MANY_STARS, "a" * (_N - 1) + "b", True),
    (_MANY_STARS, "ab" * (_N // 2), True),
    (_ONE_STAR_ONE, "a" * _N, False),
    (_ONE_STAR_ONE, "a" * (_N - 1) + "b", True),
    (_WILD_SEGMENT, "a" * _N, False),
    (_WILD_SEGMENT, "a" * _N + "b", True),
    (_LONG_WILD_SEGMENT, "a" * _N, False),
    (_LONG_WILD_SEGMENT, "a" * _N + "b", True),
    ("*" + "a" * 100 + "b*", "a" * _N, False),
    ("*?" * 500 + "*", "a" * _N, True),
]


@pytest.mark.parametrize(("glob", "value", "expected"), GLOB_CASES)
def test_worst_case_globs_are_linear(glob: str, value: str, expected: bool) -> None:
    matched, steps = _scan(glob, value)
    assert matched is expected
    assert steps <= glob_bound(glob, value)
    assert compile_glob(glob)(value) is expected
    upper = glob.upper()
    matched, steps = _scan(upper, value.upper(), ignore_case=True)
    assert matched is expected
    assert steps <= glob_bound(upper, value, ignore_case=True)


ARN_CASES = [
    ("arn:aws:iam::*:user/" + _MANY_STARS, "arn:aws:iam::123456789012:user/" + "a" * _N, False),
    (
        "arn:aws:iam::*:user/" + _MANY_STARS,
        "arn:aws:iam::123456789012:user/" + "a" * _N + "b",
        True,
    ),
    (_HEAD, "arn:aws:iam:" + "a" * _N + ":1:user/x", False),
    (_HEAD, "arn:aws:iam:" + "a" * _N + "b:1:user/x", True),
    (_HEAD, "arn:aws:iam:" + "a:" * (_N // 2) + "b:1:user/x", False),
    ("arn:*:*:*:*:" + _ONE_STAR_ONE, "arn:a:b:c:d:" + "a:" * (_N // 2), False),
    ("arn:aws:s3:" + _MANY_STARS + "*", "arn:aws:s3:" + "a:" * (_N // 2), False),
    ("arn:aws:s3:" + _MANY_STARS + "*", "arn:aws:s3:" + "a:" * (_N // 2) + "b:", True),
]


@pytest.mark.parametrize(("glob", "arn", "expected"), ARN_CASES)
def test_worst_case_arn_globs_are_linear(glob: str, arn: str, expected: bool) -> None:
    matched, steps = _arn_scan(glob, arn)
    assert matched is expected
    assert steps <= arn_bound(glob, arn)
    assert compile_arn_glob(glob)(arn) is expected


def test_steps_grow_linearly_with_the_value() -> None:
    # Twice the value, at most twice the steps (plus the pattern's share): no quadratic term.
    short = _scan(_MANY_STARS, "a" * 1000)[1]
    long = _scan(_MANY_STARS, "a" * 2000)[1]
    assert long <= 2 * short + len(_MANY_STARS) + 1
