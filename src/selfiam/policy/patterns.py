"""Action, Resource and StringLike-style patterns, compiled once and cached.

The wildcard matching itself is `globs` (linear time, no backtracking): these classes
validate a policy's text, turn it into an escaped glob (see `variables`) and pick the
cheapest matcher for its shape, remembering answers where requests repeat themselves.
"""

from __future__ import annotations

import re
from functools import lru_cache

from selfiam.policy.arns import ContextMatcher, head_of, variable_matcher
from selfiam.policy.context import RequestContext
from selfiam.policy.errors import MalformedPolicyError
from selfiam.policy.globs import (
    STAR,
    Matcher,
    always,
    compile_arn_glob,
    compile_glob,
    literal_text,
    tokens,
)
from selfiam.policy.variables import Template, policy_text_to_glob

__all__ = [
    "ActionPattern",
    "Matcher",
    "ResourcePattern",
    "StringPattern",
    "action_pattern",
    "compile_arn_glob",
    "compile_glob",
    "resource_pattern",
]


def _literal_or_star(globs: list[str]) -> list[str | None] | None:
    """Each glob's literal text, or None for a lone `*`; None if some glob is neither."""
    out: list[str | None] = []
    for glob in globs:
        if tokens(glob) == [STAR]:
            out.append(None)
            continue
        text = literal_text(glob)
        if text is None:
            return None
        out.append(text)
    return out


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
            self._match: Matcher = always
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
            self._match: Matcher | None = always
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
            matchers = [compile_glob(f) for f in head]
            known = _literal_or_star(head)
            self.match = variable_matcher(head_of(known, matchers), *pieces, self._general)

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
