"""botocore's own service models for IAM and STS, loaded once per process.

Everything on the wire (request parsing, validation, XML output) is derived
from these shapes (DESIGN.md rule 3), so this module is the single place that
touches botocore's loader. It also holds the model's constraints (lengths,
ranges, enums, patterns) and AWS's wording of their violations, which do not
depend on the Query wire format.
"""

from __future__ import annotations

import base64
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import botocore.session

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel, Shape

SERVICES: tuple[str, ...] = ("iam", "sts")


@dataclass(frozen=True)
class ServiceSpec:
    """One service's model plus the facts the wire protocol needs from it."""

    name: str
    model: ServiceModel
    api_version: str
    namespace: str
    operations: frozenset[str] = field(repr=False)

    def operation(self, name: str) -> OperationModel | None:
        """The operation's model, or None if the service has no such operation."""
        if name not in self.operations:
            return None
        return self.model.operation_model(name)


_lock = threading.Lock()
#: One entry per name in SERVICES at most: unbounded by construction.
_specs: dict[str, ServiceSpec] = {}
_session: botocore.session.Session | None = None


def service_spec(service: str) -> ServiceSpec:
    """The cached spec of ``service`` ("iam" or "sts"); ValueError for others."""
    spec = _specs.get(service)
    if spec is not None:
        return spec
    if service not in SERVICES:
        raise ValueError(f"unsupported service {service!r}")
    global _session
    with _lock:
        spec = _specs.get(service)
        if spec is None:
            if _session is None:
                _session = botocore.session.get_session()
            model = _session.get_service_model(service)
            spec = ServiceSpec(
                name=service,
                model=model,
                api_version=model.metadata["apiVersion"],
                namespace=model.metadata["xmlNamespace"],
                operations=frozenset(model.operation_names),
            )
            _specs[service] = spec
    return spec


def member_path_name(member_name: str) -> str:
    """The name AWS uses for a member in validation messages: lowerCamelCase.

    AWS reports ``UserName`` as ``userName`` and ``SAMLMetadataDocument`` as
    ``sAMLMetadataDocument``: only the first letter is lowered.
    """
    return member_name[:1].lower() + member_name[1:]


# --- constraints ----------------------------------------------------------------------------

NUMERIC_TYPES = frozenset({"integer", "long", "float", "double"})
_UNICODE_CLASS = re.compile(r"\\p\{([A-Z][a-z]?)\}")
_ASCII_OF_CLASS = {"L": "A-Za-z", "N": "0-9", "Z": " "}


def compile_pattern(pattern: str) -> Callable[[str], object]:
    """A full-match predicate for one of the model's (Java) regexes, as AWS applies them.

    Java's ``\\w`` and ``\\d`` are ASCII-only, hence ``re.ASCII``. Python's ``re``
    has no ``\\p{L}``; the model only uses it in one-class patterns such as
    ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+`` (tag keys), which are checked with an ASCII
    fast path and a per-character Unicode category test.
    """
    if "\\p{" not in pattern:
        return re.compile(pattern, re.ASCII).fullmatch
    shape = re.fullmatch(r"\[((?:[^\]\\]|\\.)*)\]([+*])", pattern)
    if shape is None:
        raise ValueError(f"unsupported model pattern {pattern!r}")
    body, quantifier = shape.groups()
    categories = tuple(_UNICODE_CLASS.findall(body))
    rest = _UNICODE_CLASS.sub("", body)
    ascii_part = "".join(_ASCII_OF_CLASS.get(c[0], "") for c in categories if len(c) == 1)
    fast = re.compile(f"[{ascii_part}{rest}]{quantifier}", re.ASCII).fullmatch
    other = re.compile(f"[{rest}]", re.ASCII).fullmatch if rest else None
    category = unicodedata.category

    def match(value: str) -> bool:
        if fast(value):
            return True
        if not value:
            return quantifier == "*"
        for ch in value:
            if not category(ch).startswith(categories) and (other is None or not other(ch)):
                return False
        return True

    return match


class Constraints:
    """One shape's constraints (length or range, enum, pattern), checked and worded as AWS does."""

    __slots__ = ("sensitive", "min", "max", "enum", "pattern", "_match", "_numeric", "_enum_text")

    def __init__(self, shape: Shape) -> None:
        meta = shape.metadata
        self.sensitive = bool(meta.get("sensitive"))
        self.min: int | float | None = meta.get("min")
        self.max: int | float | None = meta.get("max")
        enum = getattr(shape, "enum", None) or None
        self.enum = frozenset(enum) if enum else None
        self._enum_text = f"Member must satisfy enum value set: [{', '.join(enum)}]" if enum else ""
        self.pattern: str | None = meta.get("pattern")
        self._match = compile_pattern(self.pattern) if self.pattern else None
        self._numeric = shape.type_name in NUMERIC_TYPES

    def violations(self, value: Any) -> list[str]:
        """The constraints ``value`` violates, in AWS's words (empty if none)."""
        found: list[str] = []
        if isinstance(value, str):
            if self.enum is not None and value not in self.enum:
                found.append(self._enum_text)
            if self._match is not None and not self._match(value):
                found.append(f"Member must satisfy regular expression pattern: {self.pattern}")
        if self._numeric:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return found
            if self.min is not None and value < self.min:
                found.append(f"Member must have value greater than or equal to {self.min}")
            if self.max is not None and value > self.max:
                found.append(f"Member must have value less than or equal to {self.max}")
            return found
        if isinstance(value, str | bytes | list | dict):
            if self.min is not None and len(value) < self.min:
                found.append(f"Member must have length greater than or equal to {self.min}")
            if self.max is not None and len(value) > self.max:
                found.append(f"Member must have length less than or equal to {self.max}")
        return found

    def describe(self) -> list[str]:
        """Every constraint of the shape, as AWS lists them for a bad list element."""
        texts = [self._enum_text] if self.enum is not None else []
        word = "value" if self._numeric else "length"
        if self.max is not None:
            texts.append(f"Member must have {word} less than or equal to {self.max}")
        if self.min is not None:
            texts.append(f"Member must have {word} greater than or equal to {self.min}")
        if self.pattern:
            texts.append(f"Member must satisfy regular expression pattern: {self.pattern}")
        return texts


def render_value(value: Any) -> str:
    """A value as AWS (Java) prints it inside a validation message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={render_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def violation(path: str, value: Any, sensitive: bool, constraint: str) -> str:
    """One entry of AWS's validation message; sensitive values are never echoed."""
    if sensitive:
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    return f"Value '{render_value(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def null_violation(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


def validation_summary(errors: list[str]) -> str:
    """AWS's "N validation error(s) detected: a; b" message."""
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(errors)
