"""Wildcard matching for Action, Resource and the String/ARN condition operators.

Patterns are compiled once and cached: `compile_glob` and `compile_arn_glob`
take an *escaped glob* (see `variables`): `*` matches any run of characters,
`?` exactly one, and a backslash makes the next character literal (that is how
substituted policy-variable values and `${*}` stay literal). Simple shapes are
compiled to plain string operations instead of regexes: equality, prefix,
suffix, substring.

ARNs (AWS, "Condition operators", ARN operators, and "IAM JSON policy
elements: Resource"): the six colon-separated fields
`arn:partition:service:region:account:resource` are matched separately, so a
wildcard in the first five never crosses a colon; the sixth field, the
resource, may itself contain colons and slashes and a `*` there spans them.
Matching is case-sensitive. A pattern with fewer than six fields whose last
character is `*` ("arn:aws:s3:*") lets that `*` expand over the remaining
fields, as AWS documents for a `*` that ends an ARN segment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from selfiam.policy.arns import ContextMatcher, head_of, variable_matcher
from selfiam.policy.context import RequestContext
from selfiam.policy.errors import MalformedPolicyError
from selfiam.policy.variables import Template, policy_text_to_glob

Matcher = Callable[[str], bool]

_STAR = object()
_ONE = object()
_Token = str | object


def _tokens(glob: str) -> list[_Token]:
    """Split an escaped glob into literal strings and the wildcard markers."""
    out: list[_Token] = []
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
                out.append(_ONE)
            elif not out or out[-1] is not _STAR:  # "**" is one "*"
                out.append(_STAR)
        else:
            buf.append(c)
        i += 1
    if buf:
        out.append("".join(buf))
    return out


def _always(_: str) -> bool:
    return True


def _never(_: str) -> bool:
    return False


@lru_cache(maxsize=8192)
def compile_glob(glob: str, ignore_case: bool = False) -> Matcher:
    """A predicate testing a whole string against an escaped glob (cached)."""
    tokens = _tokens(glob)
    if ignore_case:
        tokens = [t.lower() if isinstance(t, str) else t for t in tokens]
    fold: Callable[[str], str] | None = str.lower if ignore_case else None
    base: Matcher
    shape = tuple(t if t is _STAR or t is _ONE else "L" for t in tokens)
    lits = [t for t in tokens if isinstance(t, str)]
    if shape == ():
        base = "".__eq__
    elif shape == ("L",):
        base = lits[0].__eq__
    elif shape == (_STAR,):
        return _always
    elif shape == ("L", _STAR):
        prefix = lits[0]
        base = lambda s: s.startswith(prefix)  # noqa: E731
    elif shape == (_STAR, "L"):
        suffix = lits[0]
        base = lambda s: s.endswith(suffix)  # noqa: E731
    elif shape == (_STAR, "L", _STAR):
        infix = lits[0]
        base = lambda s: infix in s  # noqa: E731
    else:
        regex = "".join(
            ".*" if t is _STAR else "." if t is _ONE else re.escape(str(t)) for t in tokens
        )
        fullmatch = re.compile(regex, re.DOTALL).fullmatch
        base = lambda s: fullmatch(s) is not None  # noqa: E731
    if fold is None:
        return base
    return lambda s: base(s.lower())


def glob_is_literal(glob: str) -> bool:
    return all(isinstance(t, str) for t in _tokens(glob))


def _literal_or_star(globs: list[str]) -> list[str | None] | None:
    """Each glob's literal text, or None for a lone `*`; None if some glob is neither."""
    out: list[str | None] = []
    for glob in globs:
        tokens = _tokens(glob)
        if tokens == [_STAR]:
            out.append(None)
        elif all(isinstance(t, str) for t in tokens):
            out.append("".join(t for t in tokens if isinstance(t, str)))
        else:
            return None
    return out


def _ends_with_star(glob: str) -> bool:
    tokens = _tokens(glob)
    return bool(tokens) and tokens[-1] is _STAR


@lru_cache(maxsize=8192)
def compile_arn_glob(glob: str) -> Matcher:
    """A predicate testing an ARN against an escaped-glob ARN pattern, field by field."""
    if glob == "*":
        return _always
    fields = glob.split(":", 5)
    count = len(fields)
    if count < 6 and not _ends_with_star(fields[-1]):
        return _never  # not an ARN pattern: it can match no ARN
    head = fields[:-1]
    last = compile_glob(fields[-1])
    if all(glob_is_literal(f) for f in head):
        # Literal partition/service/region/account: one prefix test, then the rest.
        prefix = ":".join("".join(t for t in _tokens(f) if isinstance(t, str)) for f in head)
        prefix += ":"
        size = len(prefix)
        return lambda arn: arn.startswith(prefix) and last(arn[size:])
    # Some of the first fields have wildcards: one regex, whose wildcards in those
    # fields cannot cross a colon while the last field's can.
    regex = ":".join(_field_regex(f, i == count - 1) for i, f in enumerate(fields))
    fullmatch = re.compile(regex, re.DOTALL).fullmatch
    return lambda arn: fullmatch(arn) is not None


def _field_regex(field: str, last_field: bool) -> str:
    """The regex of one ARN field's escaped glob; only the last field's `*` spans colons."""
    return "".join(
        (".*" if last_field else "[^:]*")
        if t is _STAR
        else ("." if last_field else "[^:]")
        if t is _ONE
        else re.escape(str(t))
        for t in _tokens(field)
    )


_MEMO_LIMIT = 4096


class _Memo(dict[str, bool]):
    """A matcher's answers by value, computed on a miss; cleared when it grows too big."""

    __slots__ = ("match",)

    def __init__(self, match: Matcher) -> None:
        super().__init__()
        self.match = match

    def __missing__(self, value: str) -> bool:
        hit = self.match(value)
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        self[value] = hit
        return hit


def _memoized(match: Matcher) -> Matcher:
    """Remember a matcher's answers: requests repeat the same actions and resources.

    The matcher is the dict's own `__getitem__`, so a value seen before costs one C call.
    """
    return _Memo(match).__getitem__


class StringPattern:
    """StringLike-style matching: `*` any run, `?` one character, whole string."""

    __slots__ = ("text", "ignore_case", "_match")

    def __init__(self, text: str, ignore_case: bool = False) -> None:
        self.text = text
        self.ignore_case = ignore_case
        self._match = compile_glob(policy_text_to_glob(text), ignore_case)

    def matches(self, value: str) -> bool:
        return self._match(value)

    def __repr__(self) -> str:
        return f"StringPattern({self.text!r}, ignore_case={self.ignore_case})"


_SERVICE = re.compile(r"[a-z0-9-]+")
_ACTION_NAME = re.compile(r"[A-Za-z0-9_.*?-]+")


class ActionPattern:
    """An Action/NotAction entry: "*" or "service:name", name may use `*` and `?`.

    Matching is case-insensitive (AWS: action names are not case-sensitive).
    """

    __slots__ = ("text", "service", "is_wildcard", "_lowered", "_match")

    def __init__(self, text: str) -> None:
        self.text = text
        if text == "*":
            self.service: str = "*"
            self.is_wildcard = True
            self._lowered = "*"
            self._match: Matcher = _always
            return
        service, sep, name = text.partition(":")
        if not sep:
            raise MalformedPolicyError(
                f"Action {text!r}: Actions/Conditions must be prefaced by a vendor, "
                "e.g., iam, sdb, ec2, etc."
            )
        service = service.lower()
        if not _SERVICE.fullmatch(service):
            raise MalformedPolicyError(
                f"Action {text!r}: vendor {service!r} is not valid; it must be a service "
                "prefix such as iam, s3 or ec2."
            )
        if not _ACTION_NAME.fullmatch(name):
            raise MalformedPolicyError(
                f"Action {text!r}: the action name must be letters, digits and the "
                "wildcards * and ?."
            )
        self.service = service
        self.is_wildcard = "*" in name or "?" in name
        self._lowered = text.lower()
        glob = compile_glob(self._lowered, False)
        self._match = _memoized(lambda action: glob(action.lower()))

    def matches(self, action: str) -> bool:
        """Whether the request's action (e.g. "iam:CreateAccessKey") matches."""
        return self._match(action)

    def __repr__(self) -> str:
        return f"ActionPattern({self.text!r})"


def _resource_error(text: str) -> MalformedPolicyError:
    return MalformedPolicyError(f'Resource {text} must be in ARN format or "*".')


class ResourcePattern:
    """A Resource/NotResource entry: "*" or an ARN pattern, maybe with policy variables.

    Variables are substituted only in the resource part (after the fifth
    colon), as AWS documents; elsewhere `${...}` is literal text.
    """

    __slots__ = ("text", "variable_keys", "_template", "_prefix", "_match", "_rendered", "match")

    def __init__(self, text: str, variables_enabled: bool) -> None:
        self.text = text
        self._template: Template | None = None
        self._prefix = ""
        self._rendered: dict[str, Matcher] = {}
        self.variable_keys: tuple[str, ...] = ()
        #: `matches` itself, or a faster function with its signature and answers.
        self.match: ContextMatcher = self._general
        if text == "*":
            self._match: Matcher | None = _always
            return
        fields = text.split(":", 5)
        if fields[0] != "arn" or len(fields) < 2:
            raise _resource_error(text)
        if len(fields) < 6:
            if not text.endswith("*"):
                raise _resource_error(text)
            self._match = compile_arn_glob(policy_text_to_glob(text))
            return
        template = Template.parse(fields[5], variables_enabled)
        head = [policy_text_to_glob(f) for f in fields[:5]]
        self._prefix = ":".join(head) + ":"
        if template.static_glob is not None:
            self._match = _memoized(compile_arn_glob(self._prefix + template.static_glob))
            return
        self._match = None
        self._template = template
        self.variable_keys = template.variable_keys
        # The common shape: literal text around variables (see `arns`).
        pieces = template.literal_pieces()
        if pieces is not None:
            regex = "".join(f"{_field_regex(f, False)}:" for f in head)
            known = _literal_or_star(head)
            self.match = variable_matcher(head_of(known, regex), *pieces, self._general)

    @property
    def static_match(self) -> Matcher | None:
        """The matcher taking the ARN alone, when the pattern has no variable."""
        return self._match

    def matches(self, resource: str, ctx: RequestContext, missing: set[str] | None = None) -> bool:
        """Whether `resource` (an ARN) matches; a variable without a value never matches."""
        return self.match(resource, ctx, missing)

    def _general(self, resource: str, ctx: RequestContext, missing: set[str] | None = None) -> bool:
        if self._match is not None:
            return self._match(resource)
        assert self._template is not None
        rendered = self._template.render_glob(ctx, missing)
        if rendered is None:
            return False
        match = self._rendered.get(rendered)
        if match is None:
            match = compile_arn_glob(self._prefix + rendered)
            if len(self._rendered) >= _MEMO_LIMIT:
                self._rendered.clear()
            self._rendered[rendered] = match
        return match(resource)

    def __repr__(self) -> str:
        return f"ResourcePattern({self.text!r})"


@lru_cache(maxsize=4096)
def action_pattern(text: str) -> ActionPattern:
    """A cached ActionPattern (patterns are immutable, so sharing is safe)."""
    return ActionPattern(text)


@lru_cache(maxsize=4096)
def resource_pattern(text: str, variables_enabled: bool) -> ResourcePattern:
    """A cached ResourcePattern."""
    return ResourcePattern(text, variables_enabled)
