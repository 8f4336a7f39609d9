"""AWS Query protocol requests: flat form parameters in, boto3-shaped input out.

``parse_request`` turns ``Action=CreateUser&Version=2010-05-08&UserName=bob&
Tags.member.1.Key=team&...`` into ``("CreateUser", {"UserName": "bob",
"Tags": [{"Key": "team", ...}]})`` exactly as boto3 would have been called,
and validates it against botocore's model the way AWS does: every violated
constraint (required, length, pattern, enum, range) is collected into one
``ValidationError`` worded like AWS ("2 validation errors detected: Value 'a b'
at 'userName' failed to satisfy constraint: ...; ...").

A decoder is compiled once per shape (regexes included) and cached, so a
request costs one pass over its parameters. The caches need no bound: they are
keyed by the model's own shape and operation names (an unknown action is refused
before a decoder is looked up), so they never hold more than the two models.
Requests' sizes are bounded in ``limits``.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from selfiam.api.limits import MAX_INDEX_DIGITS, MAX_NAME_PARTS, index_too_long, name_too_deep
from selfiam.api.model import (
    Constraints,
    member_path_name,
    null_violation,
    service_spec,
    validation_summary,
    violation,
)
from selfiam.domain.errors import InvalidAction, MissingAction, ValidationError

if TYPE_CHECKING:
    from botocore.model import Shape

__all__ = ["decode_request", "parse_request"]

# Trie of the flat parameters: "Tags.member.1.Key" -> {"Tags": {"member": {"1": {"Key": {None: v}}}}}.
# A node's own value (if any) lives under the key None.
Node = dict[str | None, Any]


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_MISSING = _Sentinel("MISSING")  # not present on the wire
_INVALID = _Sentinel("INVALID")  # present but unparseable (an error was recorded)

_INT_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


# --- decoders -------------------------------------------------------------------------------


_TYPE_TEXT = {
    "integer": "Member must be an integer",
    "long": "Member must be an integer",
    "boolean": "Member must be a boolean (true or false)",
    "float": "Member must be a number",
    "double": "Member must be a number",
    "timestamp": "Member must be an ISO 8601 timestamp",
    "blob": "Member must be base64-encoded",
}


class _Decoder:
    """Decodes one shape from its trie node, recording violations in ``errors``."""

    __slots__ = ("checks",)

    def __init__(self, shape: Shape) -> None:
        self.checks = Constraints(shape)

    def decode(self, node: Node, path: str, errors: list[str]) -> Any:
        raise NotImplementedError

    def _check(self, value: Any, path: str, errors: list[str]) -> None:
        checks = self.checks
        for text in checks.violations(value):
            errors.append(violation(path, value, checks.sensitive, text))


class _Scalar(_Decoder):
    """Strings, numbers, booleans, timestamps and blobs: one leaf value."""

    __slots__ = ("type_name",)

    def __init__(self, shape: Shape) -> None:
        super().__init__(shape)
        self.type_name = shape.type_name

    def convert(self, raw: str) -> Any:
        """The typed value of a wire string, or _INVALID."""
        kind = self.type_name
        if kind == "string":
            return raw
        if kind in _INT_BOUNDS:
            if not _INT_RE.fullmatch(raw):
                return _INVALID
            number = int(raw)
            low, high = _INT_BOUNDS[kind]
            return number if low <= number <= high else _INVALID
        if kind == "boolean":
            lowered = raw.lower()
            if lowered == "true":
                return True
            return False if lowered == "false" else _INVALID
        if kind in ("float", "double"):
            return float(raw) if _NUMBER_RE.fullmatch(raw) else _INVALID
        if kind == "timestamp":
            return _parse_timestamp(raw)
        if kind == "blob":
            try:
                return base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                return _INVALID
        return raw

    def unparseable(self, path: str, raw: str) -> str:
        text = _TYPE_TEXT.get(self.type_name, "Member has an invalid value")
        return violation(path, raw, self.checks.sensitive, text)

    def decode(self, node: Node, path: str, errors: list[str]) -> Any:
        raw = node.get(None)
        if raw is None:
            return _MISSING
        value = self.convert(raw)
        if value is _INVALID:
            errors.append(self.unparseable(path, raw))
            return _INVALID
        self._check(value, path, errors)
        return value


def _parse_timestamp(raw: str) -> datetime | _Sentinel:
    try:
        if _NUMBER_RE.fullmatch(raw):
            parsed = datetime.fromtimestamp(float(raw), UTC)
        else:
            parsed = datetime.fromisoformat(raw)
    except (ValueError, OverflowError, OSError):
        return _INVALID
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _indexed(node: Node) -> list[Node]:
    """Children named by a positive decimal index, in index order."""
    keyed = [
        (int(k), child)
        for k, child in node.items()
        if k is not None and k.isdecimal() and k.isascii()
    ]
    keyed.sort(key=lambda pair: pair[0])
    return [child for _, child in keyed]


class _List(_Decoder):
    __slots__ = ("item_key", "element")

    def __init__(self, shape: Any, element: _Decoder) -> None:
        super().__init__(shape)
        flattened = shape.serialization.get("flattened")
        self.item_key = None if flattened else shape.member.serialization.get("name", "member")
        self.element = element

    def decode(self, node: Node, path: str, errors: list[str]) -> Any:
        items = node if self.item_key is None else node.get(self.item_key)
        if items is None:
            # "Tags=" is how the Query protocol sends an empty list.
            if node.get(None) is None:
                return _MISSING
            value: list[Any] = []
        else:
            value = self._elements(_indexed(items), path, errors)
        self._check(value, path, errors)
        return value

    def _elements(self, nodes: list[Node], path: str, errors: list[str]) -> list[Any]:
        element = self.element
        out: list[Any] = []
        if isinstance(element, _Scalar):
            # AWS reports a bad scalar element on the list as a whole, listing the
            # element's constraints: "Member must satisfy constraint: [...]".
            bad = False
            for child in nodes:
                raw = child.get(None)
                if raw is None:
                    continue
                item = element.convert(raw)
                if item is _INVALID:
                    errors.append(element.unparseable(path, raw))
                    continue
                bad = bad or bool(element.checks.violations(item))
                out.append(item)
            if bad:
                inner = ", ".join(element.checks.describe())
                constraint = f"Member must satisfy constraint: [{inner}]"
                errors.append(violation(path, out, element.checks.sensitive, constraint))
            return out
        for position, child in enumerate(nodes, 1):
            item = element.decode(child, f"{path}.{position}.member", errors)
            if item is not _MISSING and item is not _INVALID:
                out.append(item)
        return out


class _Map(_Decoder):
    __slots__ = ("entry_key", "key_name", "value_name", "key", "value")

    def __init__(self, shape: Any, key: _Decoder, value: _Decoder) -> None:
        super().__init__(shape)
        self.entry_key = None if shape.serialization.get("flattened") else "entry"
        self.key_name = shape.key.serialization.get("name", "key")
        self.value_name = shape.value.serialization.get("name", "value")
        self.key = key
        self.value = value

    def decode(self, node: Node, path: str, errors: list[str]) -> Any:
        entries = node if self.entry_key is None else node.get(self.entry_key)
        if entries is None:
            if node.get(None) is None:
                return _MISSING
            result: dict[Any, Any] = {}
        else:
            result = {}
            for position, entry in enumerate(_indexed(entries), 1):
                key_node = entry.get(self.key_name)
                value_node = entry.get(self.value_name)
                entry_path = f"{path}.{position}"
                key = (
                    self.key.decode(key_node, f"{entry_path}.key", errors) if key_node else _MISSING
                )
                if key is _MISSING:
                    errors.append(null_violation(f"{entry_path}.key"))
                    continue
                item = (
                    self.value.decode(value_node, f"{entry_path}.value", errors)
                    if value_node
                    else _MISSING
                )
                if key is not _INVALID and item is not _INVALID:
                    result[key] = None if item is _MISSING else item
        self._check(result, path, errors)
        return result


class _Structure(_Decoder):
    __slots__ = ("members",)

    def __init__(self, shape: Shape) -> None:
        super().__init__(shape)
        # (python name, wire name, name in messages, decoder, required); filled by _compile
        self.members: tuple[tuple[str, str, str, _Decoder, bool], ...] = ()

    def decode(self, node: Node, path: str, errors: list[str], top: bool = False) -> Any:
        out: dict[str, Any] = {}
        seen = False
        for name, wire, message_name, decoder, required in self.members:
            member_path = f"{path}.{message_name}" if path else message_name
            child = node.get(wire)
            value = _MISSING if child is None else decoder.decode(child, member_path, errors)
            if value is _MISSING:
                if required:
                    errors.append(null_violation(member_path))
                continue
            seen = True
            if value is not _INVALID:
                out[name] = value
        if not seen and not top and node.get(None) is None:
            return _MISSING
        return out


# --- compilation and caches ----------------------------------------------------------------

_cache_lock = threading.Lock()
_shape_decoders: dict[tuple[str, str], _Decoder] = {}
_operation_decoders: dict[tuple[str, str], _Structure | None] = {}


def _compile(service: str, shape: Any) -> _Decoder:
    key = (service, shape.name)
    found = _shape_decoders.get(key)
    if found is not None:
        return found
    decoder: _Decoder
    if shape.type_name == "structure":
        structure = _Structure(shape)
        _shape_decoders[key] = structure  # registered first: shapes may be recursive
        required = set(shape.required_members)
        structure.members = tuple(
            (
                name,
                member.serialization.get("name", name),
                member_path_name(name),
                _compile(service, member),
                name in required,
            )
            for name, member in shape.members.items()
        )
        return structure
    if shape.type_name == "list":
        decoder = _List(shape, _compile(service, shape.member))
    elif shape.type_name == "map":
        decoder = _Map(shape, _compile(service, shape.key), _compile(service, shape.value))
    else:
        decoder = _Scalar(shape)
    _shape_decoders[key] = decoder
    return decoder


def _operation_decoder(service: str, operation: Any) -> _Structure | None:
    key = (service, operation.name)
    try:
        return _operation_decoders[key]
    except KeyError:
        pass
    with _cache_lock:
        if key not in _operation_decoders:
            shape = operation.input_shape
            decoder = _compile(service, shape) if shape is not None else None
            assert decoder is None or isinstance(decoder, _Structure)
            _operation_decoders[key] = decoder
        return _operation_decoders[key]


def _build_trie(params: Mapping[str, str]) -> Node:
    """The parameters as a trie; InvalidQueryParameter for a name deeper than any input
    (``limits.MAX_NAME_PARTS``) or with a list position of too many digits."""
    root: Node = {}
    for key, value in params.items():
        parts = key.split(".", MAX_NAME_PARTS)
        if len(parts) > MAX_NAME_PARTS:
            raise name_too_deep(key)
        node = root
        for part in parts:
            if len(part) > MAX_INDEX_DIGITS and part.isdecimal():
                raise index_too_long(key)
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            node = child
        node[None] = value
    return root


def parse_request(service: str, params: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Parse and validate one Query request of ``service`` ("iam" or "sts").

    ``params`` is the flat form (or query string) without the SigV4 parameters.
    Returns the operation name and its input shaped like boto3's keyword
    arguments. Raises MissingAction, InvalidAction or ValidationError as AWS does;
    parameters the operation does not know are ignored, as AWS ignores them.
    """
    action, result, errors = decode_request(service, params)
    if errors:
        raise ValidationError(validation_summary(errors))
    return action, result


def decode_request(
    service: str, params: Mapping[str, str]
) -> tuple[str, dict[str, Any], list[str]]:
    """Like ``parse_request`` but returns the violations instead of raising them.

    Values that violate a constraint are kept in the result (unparseable ones
    are dropped), which lets tests check the structure independently of the
    model's constraints.
    """
    spec = service_spec(service)
    action = params.get("Action")
    if not action:
        raise MissingAction("The request is missing an action or a required parameter.")
    version = params.get("Version") or spec.api_version
    operation = spec.operation(action) if version == spec.api_version else None
    if operation is None:
        raise InvalidAction(f"Could not find operation {action} for version {version}")
    decoder = _operation_decoder(service, operation)
    if decoder is None:
        return action, {}, []
    errors: list[str] = []
    result = decoder.decode(_build_trie(params), "", errors, top=True)
    return action, result, errors
