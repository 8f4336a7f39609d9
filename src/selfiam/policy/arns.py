"""Fast matching of Resource ARN patterns whose resource part has policy variables.

`arn:aws:iam::*:user/${aws:username}` is the pattern of every "manage your own X" policy,
and matching it was the costliest step of a decision: render the variable into an escaped
glob, look up (or compile) the ARN matcher for that text, then run it. When the resource
part is literal text around variables (no wildcard of its own), there is no glob to build:
with the values substituted, the resource part must *equal* that text, and the ARN's
first five fields must match the pattern's, which does not depend on the request.

* Literal first five fields: the ARN must equal prefix + text (one comparison).
* Otherwise: the ARN must end with the text, and what comes before it must be five fields
  and their colons, each field matching the pattern's (`globs`, so a `*` there spans no
  colon), so that the text is exactly the resource part.

Any other case -- a variable missing from the request, empty or multivalued, so that its
default or "no value" applies -- takes the general path (`ResourcePattern._general`), which
also reports missing keys. Both give the same answer; tests/policy/test_arns.py checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from selfiam.policy.context import RequestContext

#: (resource, ctx, missing) -> whether the ARN matches: `ResourcePattern.matches`' signature.
ContextMatcher = Callable[[str, RequestContext, "set[str] | None"], bool]


class Head(NamedTuple):
    """How to test that `arn[:end]` is a pattern's five head fields, colons included.

    * `literal`: the head is this text;
    * else `prefix` and `suffix` (with `run`): literal fields, around one run of `*` fields
      that may hold anything but a colon, so that the head has five colons in all;
    * else `fields`, a matcher for each field.
    """

    literal: str | None
    prefix: str
    suffix: str
    fields: tuple[Callable[[str], bool], ...] | None

    def test(self, arn: str, end: int) -> bool:
        if self.literal is not None:
            return arn[:end] == self.literal
        if self.fields is not None:
            if end < 0:
                return False
            parts = arn[:end].split(":", 5)
            return (
                len(parts) == 6
                and not parts[5]
                and all(match(part) for match, part in zip(self.fields, parts, strict=False))
            )
        return _run_test(arn, end, self.prefix, self.suffix)


def _run_test(arn: str, end: int, prefix: str, suffix: str) -> bool:
    return (
        end >= len(prefix) + len(suffix)
        and arn.startswith(prefix)
        and arn.startswith(suffix, end - len(suffix))
        and arn.count(":", 0, end) == 5
    )


def head_of(fields: Sequence[str | None] | None, matchers: Sequence[Callable[[str], bool]]) -> Head:
    """The Head of a pattern: `fields` holds each head field's literal text, or None for a
    `*` field, when every field is one of those (else None); `matchers` match the fields."""
    if fields is not None and len(fields) == 5:
        stars = [i for i, f in enumerate(fields) if f is None]
        if not stars:
            return Head("".join(f"{f}:" for f in fields), "", "", None)
        if stars == list(range(stars[0], stars[-1] + 1)):
            prefix = "".join(f"{f}:" for f in fields[: stars[0]])
            suffix = ":" + "".join(f"{f}:" for f in fields[stars[-1] + 1 :])
            return Head(None, prefix, suffix, None)
    return Head(None, "", "", tuple(matchers))


def variable_matcher(
    head: Head,
    pieces: tuple[str, ...],
    variables: tuple[tuple[str, str], ...],
    general: ContextMatcher,
) -> ContextMatcher:
    """A matcher for an ARN pattern whose resource part is `pieces` around `variables`.

    `pieces` has one more element than `variables` ((key, lowercased key)). The common
    one-variable shapes test the head inline.
    """
    if len(variables) == 1:
        before, after = pieces
        lowered = variables[0][1]
        if head.literal is not None:
            start = head.literal + before

            def literal_one(
                resource: str, ctx: RequestContext, missing: set[str] | None = None
            ) -> bool:
                values = ctx.lookup(lowered)
                if values is None or len(values) != 1:
                    return general(resource, ctx, missing)
                return resource == start + values[0] + after

            return literal_one
        if head.fields is None:
            # The ARN must be prefix + (the `*` fields) + suffix + text, with five colons
            # before the text; the suffix is tested with the text.
            prefix = head.prefix
            before = head.suffix + before
            shortest, size = len(prefix) + len(head.suffix), len(head.suffix)

            def run_one(
                resource: str, ctx: RequestContext, missing: set[str] | None = None
            ) -> bool:
                values = ctx.lookup(lowered)
                if values is None or len(values) != 1:
                    return general(resource, ctx, missing)
                text = before + values[0] + after
                end = len(resource) - len(text) + size
                return (
                    end >= shortest
                    and resource.endswith(text)
                    and resource.startswith(prefix)
                    and resource.count(":", 0, end) == 5
                )

            return run_one

    first = pieces[0]
    rest = tuple(zip((lowered for _, lowered in variables), pieces[1:], strict=True))
    test = head.test

    def several(resource: str, ctx: RequestContext, missing: set[str] | None = None) -> bool:
        out = [first]
        lookup = ctx.lookup
        for lowered, piece in rest:
            values = lookup(lowered)
            if values is None or len(values) != 1:
                return general(resource, ctx, missing)
            out.append(values[0])
            out.append(piece)
        text = "".join(out)
        return resource.endswith(text) and test(resource, len(resource) - len(text))

    return several
