"""Policy variables: `${key}` placeholders in Resource and Condition values.

AWS ("IAM policy elements: Variables and tags"):

* Variables are interpreted only when the policy's Version is 2012-10-17;
  otherwise `${aws:username}` is literal text.
* `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`, literal even
  where the surrounding text is a wildcard pattern.
* `${key, 'default'}` gives a value for when the key has none.
* A key that is absent from the request (and has no default) leaves the
  element without a value: it matches nothing. Only single-valued keys can be
  used as variables ("you cannot use a multivalued context key as a policy
  variable"), so a key carrying several values is treated as having no value
  (its default, if any, is used).
* A substituted value is always literal: its own `*` or `?` are not wildcards.

A Template renders either to plain text (for exact comparisons) or to an
*escaped glob* (for wildcard matching), the form `patterns.compile_glob` takes:
`*` and `?` are wildcards and a backslash makes the next character literal.
"""

from __future__ import annotations

from typing import NamedTuple

from selfiam.policy.context import RequestContext
from selfiam.policy.errors import MalformedPolicyError

_SPECIALS = {"*": "*", "?": "?", "$": "$"}


def glob_escape(text: str) -> str:
    """Escape literal text so that no character of it is a wildcard."""
    if "\\" not in text and "*" not in text and "?" not in text:
        return text
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def policy_text_to_glob(text: str) -> str:
    """Policy text whose `*` and `?` are wildcards, in escaped-glob form."""
    return text.replace("\\", "\\\\") if "\\" in text else text


class _Var(NamedTuple):
    key: str
    lowered: str
    default: str | None


_Part = str | _Var  # str parts are literal policy text (wildcards kept)


def _parse_variable(body: str, text: str) -> _Var | str:
    """The inside of `${...}`: a special character, or `key` / `key, 'default'`."""
    stripped = body.strip()
    if stripped in _SPECIALS:
        return glob_escape(_SPECIALS[stripped])  # escaped: literal even in patterns
    key, default = stripped, None
    if "'" in stripped:
        head, sep, rest = stripped.partition(",")
        rest = rest.strip()
        if not sep or len(rest) < 2 or rest[0] != "'" or rest[-1] != "'" or "'" in rest[1:-1]:
            raise MalformedPolicyError(
                f"Policy variable ${{{body}}} in {text!r} is not valid: a default value is "
                "written ${key, 'default'}."
            )
        key, default = head.strip(), rest[1:-1]
    if not key or any(c in key for c in ",'{$") or any(c.isspace() for c in key[:1] + key[-1:]):
        raise MalformedPolicyError(
            f"Policy variable ${{{body}}} in {text!r} does not name a context key."
        )
    return _Var(key, key.lower(), default)


def _parse_parts(text: str) -> list[_Part]:
    parts: list[_Part] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        start = text.find("${", i)
        if start < 0:
            literal.append(policy_text_to_glob(text[i:]))
            break
        literal.append(policy_text_to_glob(text[i:start]))
        # Find the closing brace, skipping over a quoted default value.
        j, in_quote = start + 2, False
        while j < n and (in_quote or text[j] != "}"):
            if text[j] == "'":
                in_quote = not in_quote
            j += 1
        if j >= n:
            raise MalformedPolicyError(
                f"Policy variable in {text!r} is not terminated: '${{' has no closing '}}'."
            )
        parsed = _parse_variable(text[start + 2 : j], text)
        if isinstance(parsed, str):
            literal.append(parsed)
        else:
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(parsed)
        i = j + 1
    if literal:
        parts.append("".join(literal))
    return [p for p in parts if p != ""]


def _unescape_glob(glob: str) -> str:
    """Plain text of an escaped glob whose wildcards are taken literally."""
    if "\\" not in glob:
        return glob
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob[i] == "\\" and i + 1 < len(glob):
            i += 1
        out.append(glob[i])
        i += 1
    return "".join(out)


def _has_wildcard(glob: str) -> bool:
    """Whether an escaped glob has an unescaped `*` or `?`."""
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "\\":
            i += 2
            continue
        if c == "*" or c == "?":
            return True
        i += 1
    return False


class Template:
    """A policy string that may contain policy variables, parsed once."""

    __slots__ = (
        "_parts",
        "is_literal",
        "text",
        "variable_keys",
        "_static_glob",
        "_static_text",
        "_one",
    )

    def __init__(self, text: str, parts: list[_Part]) -> None:
        self.text = text
        self._parts: tuple[_Part, ...] = tuple(parts)
        keys: list[str] = []
        for part in parts:
            if isinstance(part, _Var) and part.key not in keys:
                keys.append(part.key)
        self.variable_keys: tuple[str, ...] = tuple(keys)
        #: True when the rendered value does not depend on the request.
        self.is_literal: bool = not keys
        self._static_glob: str | None = (
            "".join(p for p in parts if isinstance(p, str)) if self.is_literal else None
        )
        self._static_text: str | None = (
            _unescape_glob(self._static_glob) if self._static_glob is not None else None
        )
        # The common shape "text${key}text" (one variable) gets a fast path.
        self._one: tuple[str, _Var, str] | None = None
        variables = [p for p in parts if isinstance(p, _Var)]
        if len(variables) == 1:
            at = parts.index(variables[0])
            before, after = parts[:at], parts[at + 1 :]
            if all(isinstance(p, str) for p in before + after):
                self._one = ("".join(map(str, before)), variables[0], "".join(map(str, after)))

    @staticmethod
    def parse(text: str, variables_enabled: bool) -> Template:
        """Parse `text`; raises MalformedPolicyError for an unterminated or empty `${`."""
        if not variables_enabled or "${" not in text:
            return Template(text, [policy_text_to_glob(text)] if text else [])
        return Template(text, _parse_parts(text))

    def literal_pieces(self) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
        """The text as literal pieces around its variables, for exact comparisons.

        Returns (pieces, variables): `pieces` is the plain text before, between and after
        the variables (one more than there are variables), `variables` each one's
        (key, lowercased key). None when there is no variable or a piece has a wildcard.
        """
        if self.is_literal:
            return None
        pieces: list[str] = [""]
        variables: list[tuple[str, str]] = []
        for part in self._parts:
            if isinstance(part, str):
                if _has_wildcard(part):
                    return None
                pieces[-1] += _unescape_glob(part)
            else:
                variables.append((part.key, part.lowered))
                pieces.append("")
        return tuple(pieces), tuple(variables)

    @property
    def static_text(self) -> str | None:
        """The rendered text when `is_literal`, else None."""
        return self._static_text

    @property
    def static_glob(self) -> str | None:
        """The escaped glob when `is_literal`, else None."""
        return self._static_glob

    def _resolve(self, part: _Var, ctx: RequestContext, missing: set[str] | None) -> str | None:
        values = ctx.lookup(part.lowered)
        if values is not None and len(values) == 1:
            return values[0]
        if values is None and missing is not None:
            missing.add(part.key)
        return part.default

    def render(self, ctx: RequestContext, missing: set[str] | None = None) -> str | None:
        """The text with variables substituted; None when a variable has no value."""
        if self._static_text is not None:
            return self._static_text
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(_unescape_glob(part))
            else:
                value = self._resolve(part, ctx, missing)
                if value is None:
                    return None
                out.append(value)
        return "".join(out)

    def render_glob(self, ctx: RequestContext, missing: set[str] | None = None) -> str | None:
        """The escaped glob with variables substituted (their values literal), or None."""
        if self._static_glob is not None:
            return self._static_glob
        one = self._one
        if one is not None:
            values = ctx.lookup(one[1].lowered)
            if values is not None and len(values) == 1:
                return one[0] + glob_escape(values[0]) + one[2]
        out: list[str] = []
        lookup = ctx.lookup
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            values = lookup(part.lowered)
            if values is not None and len(values) == 1:
                value: str | None = values[0]
            else:
                value = self._resolve(part, ctx, missing)
            if value is None:
                return None
            out.append(glob_escape(value))
        return "".join(out)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"
