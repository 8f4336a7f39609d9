"""AWS Query protocol responses: output dicts and errors to AWS's XML.

The body is derived from the operation's output shape in botocore's model:
an ``{Operation}Response`` element in the service's namespace wrapping an
``{Operation}Result`` element (the output members) and ``ResponseMetadata``
with the ``RequestId``. Lists are
``<member>`` elements, maps ``<entry><key/><value/></entry>``, timestamps
ISO 8601 UTC with ``Z``, booleans ``true``/``false``, blobs base64; members that
are absent or None are omitted, and an empty list is an empty element (as AWS
sends ``<Users/>``), so boto3 sees ``[]``.

A writer is compiled once per shape and cached per operation; the caches need no
bound, being keyed by the model's shapes and by operations that exist in it.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from selfiam.api.model import service_spec
from selfiam.domain.errors import AwsError

__all__ = ["serialize_error", "serialize_response"]

Convert = Callable[[Any], str]
# write(value, parts, open_tag, close_tag) appends the element(s) for value to parts.
Write = Callable[[Any, list[str], str, str], None]

_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Characters XML 1.0 cannot carry at all, even as references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_special = _SPECIAL.search


def _escape(text: str) -> str:
    if _special(text) is None:
        return text
    return _escape_special(text)


def _escape_special(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A raw CR would be read back as LF by any XML parser; a reference survives.
    text = text.replace("\r", "&#13;")
    return _NOT_XML.sub("\ufffd", text)


def _timestamp(value: Any) -> str:
    if not isinstance(value, datetime):
        return _escape(str(value))
    zone = value.tzinfo
    if zone is not None and zone is not UTC:
        value = value.astimezone(UTC)
    # Slicing off any "+00:00" is cheaper than building a naive copy.
    if value.microsecond:
        return value.isoformat(timespec="milliseconds")[:23] + "Z"
    return value.isoformat()[:19] + "Z"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return _timestamp(value)
    return _escape(str(value))


def _string(value: Any) -> str:
    if value.__class__ is str:
        return value if _special(value) is None else _escape_special(value)
    return _text(value)


def _boolean(value: Any) -> str:
    if isinstance(value, str):
        return _escape(value)
    return "true" if value else "false"


def _blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).decode("ascii")


_CONVERTERS: dict[str, Convert] = {
    "string": _string,
    "timestamp": _timestamp,
    "boolean": _boolean,
    "blob": _blob,
}


class _Compiled:
    """How to write one shape: a scalar's text converter, or a writer of nested elements.

    ``write(value, parts, open_tag, close_tag)`` appends the element(s) for a
    value; tags are precomputed strings such as ``"<Users>"`` and ``"</Users>"``.
    """

    __slots__ = ("convert", "write", "structure")

    def __init__(
        self,
        convert: Convert | None = None,
        write: Write | None = None,
        structure: _Structure | None = None,
    ) -> None:
        self.convert = convert
        self.write = write
        self.structure = structure


def _emit(compiled: _Compiled, value: Any, parts: list[str], open_tag: str, close_tag: str) -> None:
    convert = compiled.convert
    if convert is not None:
        parts.append(f"{open_tag}{convert(value)}{close_tag}")
    else:
        compiled.write(value, parts, open_tag, close_tag)  # type: ignore[misc]


class _Structure:
    """A structure's members in model order; absent or None members are omitted."""

    __slots__ = ("members",)

    def __init__(self) -> None:
        # (name, open tag, close tag, scalar converter or None, compiled shape)
        self.members: list[tuple[str, str, str, Convert | None, _Compiled]] = []

    def write(self, value: Any, parts: list[str], open_tag: str, close_tag: str) -> None:
        parts.append(open_tag)
        self.write_members(value, parts)
        parts.append(close_tag)

    def write_members(self, value: Mapping[str, Any], parts: list[str]) -> None:
        get = value.get
        for name, open_tag, close_tag, convert, compiled in self.members:
            item = get(name)
            if item is None:
                continue
            if convert is not None:
                parts.append(f"{open_tag}{convert(item)}{close_tag}")
            else:
                compiled.write(item, parts, open_tag, close_tag)  # type: ignore[misc]


def _empty(open_tag: str) -> str:
    return open_tag[:-1] + "/>"


def _list(item_tag: str | None, flattened: bool, element: _Compiled) -> Write:
    item_open = f"<{item_tag}>" if item_tag else ""
    item_close = f"</{item_tag}>" if item_tag else ""

    if flattened:
        # No wrapper: the items repeat in place, named after the list member's
        # own name unless the model names the items.
        def write_flat(value: Any, parts: list[str], open_tag: str, close_tag: str) -> None:
            for item in value:
                _emit(element, item, parts, item_open or open_tag, item_close or close_tag)

        return write_flat

    def write(value: Any, parts: list[str], open_tag: str, close_tag: str) -> None:
        if not value:
            parts.append(_empty(open_tag))
            return
        parts.append(open_tag)
        convert = element.convert
        if convert is not None:
            parts.extend(f"{item_open}{convert(item)}{item_close}" for item in value)
        else:
            nested = element.write
            for item in value:
                nested(item, parts, item_open, item_close)  # type: ignore[misc]
        parts.append(close_tag)

    return write


def _map(key_tag: str, value_tag: str, flattened: bool, key: _Compiled, val: _Compiled) -> Write:
    key_tags = (f"<{key_tag}>", f"</{key_tag}>")
    value_tags = (f"<{value_tag}>", f"</{value_tag}>")

    def entries(value: Mapping[Any, Any], parts: list[str], open_tag: str, close_tag: str) -> None:
        for k, v in value.items():
            parts.append(open_tag)
            _emit(key, k, parts, *key_tags)
            if v is not None:
                _emit(val, v, parts, *value_tags)
            parts.append(close_tag)

    if flattened:
        return entries

    def write(value: Any, parts: list[str], open_tag: str, close_tag: str) -> None:
        if not value:
            parts.append(_empty(open_tag))
            return
        parts.append(open_tag)
        entries(value, parts, "<entry>", "</entry>")
        parts.append(close_tag)

    return write


_lock = threading.Lock()
_compiled: dict[tuple[str, str], _Compiled] = {}
_plans: dict[tuple[str, str], tuple[str, str, _Structure | None, str | None]] = {}


def _compile(service: str, shape: Any) -> _Compiled:
    key = (service, shape.name)
    found = _compiled.get(key)
    if found is not None:
        return found
    kind = shape.type_name
    if kind == "structure":
        structure = _Structure()
        compiled = _Compiled(write=structure.write, structure=structure)
        _compiled[key] = compiled  # before the members: shapes may be recursive
        for name, member in shape.members.items():
            tag = member.serialization.get("name", name)
            inner = _compile(service, member)
            structure.members.append((name, f"<{tag}>", f"</{tag}>", inner.convert, inner))
        return compiled
    if kind == "list":
        flattened = bool(shape.serialization.get("flattened"))
        item_tag = shape.member.serialization.get("name", None if flattened else "member")
        compiled = _Compiled(write=_list(item_tag, flattened, _compile(service, shape.member)))
    elif kind == "map":
        compiled = _Compiled(
            write=_map(
                shape.key.serialization.get("name", "key"),
                shape.value.serialization.get("name", "value"),
                bool(shape.serialization.get("flattened")),
                _compile(service, shape.key),
                _compile(service, shape.value),
            )
        )
    else:
        compiled = _Compiled(convert=_CONVERTERS.get(kind, _text))
    _compiled[key] = compiled
    return compiled


def _plan(service: str, operation: str) -> tuple[str, str, _Structure | None, str | None]:
    """(namespace, operation name, output writer, result wrapper tag) for one operation."""
    key = (service, operation)
    plan = _plans.get(key)
    if plan is not None:
        return plan
    spec = service_spec(service)
    model = spec.operation(operation)
    if model is None:
        raise ValueError(f"{service} has no operation {operation!r}")
    with _lock:
        shape = model.output_shape
        writer = _compile(service, shape).structure if shape is not None else None
        wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
        plan = (spec.namespace, model.name, writer, wrapper)
        _plans[key] = plan
    return plan


def serialize_response(
    service: str, operation: str, output: Mapping[str, Any], request_id: str
) -> bytes:
    """The XML body AWS sends for a successful ``operation`` of ``service``."""
    namespace, name, writer, wrapper = _plan(service, operation)
    parts: list[str] = [f'<{name}Response xmlns="{namespace}">']
    if writer is not None:
        if wrapper:
            parts.append(f"<{wrapper}>")
            writer.write_members(output, parts)
            parts.append(f"</{wrapper}>")
        else:
            writer.write_members(output, parts)
    parts.append(
        f"<ResponseMetadata><RequestId>{_escape(request_id)}</RequestId></ResponseMetadata>"
        f"</{name}Response>"
    )
    return "".join(parts).encode("utf-8")


def serialize_error(error: AwsError, request_id: str, service: str = "iam") -> bytes:
    """AWS's Query error body: ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>``.

    An error AWS answers without a message (ReportNotPresent) has no ``<Message>``.
    """
    namespace = service_spec(service).namespace
    kind = "Sender" if error.sender_fault else "Receiver"
    message = f"<Message>{_escape(error.message)}</Message>" if error.message else ""
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
        f"<Code>{_escape(error.code)}</Code>{message}"
        f"</Error><RequestId>{_escape(request_id)}</RequestId></ErrorResponse>"
    ).encode()
