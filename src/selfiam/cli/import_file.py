"""Read the users of ``selfiam user import``: a CSV or JSON file, one entry per user.

CSV: a header row naming ``name`` (required), ``path``, ``groups`` (separated by ``;``),
``tags`` (``key=value`` pairs separated by ``;``) and ``password`` (``yes``/``no``,
default yes). JSON: a list of objects with the same keys, ``groups`` a list, ``tags`` an
object or a list of ``{"Key": ..., "Value": ...}``, ``password`` a boolean. What a value
must look like (a name's characters, a path's slashes) is left to the operations, which
answer with AWS's ValidationError; only the file's own shape is checked here.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TRUE = {"", "yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}


@dataclass(frozen=True)
class ImportEntry:
    """One user to create, or the reason its line cannot be read (``problem``)."""

    line: int
    name: str
    path: str | None = None
    groups: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    password: bool = True
    problem: str | None = field(default=None)


def read_entries(path: Path) -> Iterator[ImportEntry]:
    """The file's entries in order; JSON when its name ends in ``.json``, else CSV."""
    if path.suffix.lower() == ".json":
        yield from _json_entries(path)
    else:
        yield from _csv_entries(path)


def _csv_entries(path: Path) -> Iterator[ImportEntry]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "name" not in reader.fieldnames:
            raise ValueError("the CSV file needs a header row with a 'name' column")
        for row in reader:
            line = reader.line_num
            try:
                yield ImportEntry(
                    line=line,
                    name=_name(row.get("name")),
                    path=(row.get("path") or "").strip() or None,
                    groups=tuple(g.strip() for g in (row.get("groups") or "").split(";") if g),
                    tags=_csv_tags(row.get("tags") or ""),
                    password=_flag(row.get("password")),
                )
            except ValueError as err:
                yield ImportEntry(line=line, name=(row.get("name") or ""), problem=str(err))


def _json_entries(path: Path) -> Iterator[ImportEntry]:
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, list):
        raise ValueError("the JSON file must hold a list of users")
    for index, item in enumerate(data, start=1):
        try:
            if not isinstance(item, dict):
                raise ValueError("an entry must be an object")
            yield _json_entry(index, item)
        except ValueError as err:
            name = item.get("name") if isinstance(item, dict) else None
            yield ImportEntry(line=index, name=str(name or ""), problem=str(err))


def _json_entry(index: int, item: dict[str, Any]) -> ImportEntry:
    groups = item.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ValueError("groups must be a list of group names")
    password = item.get("password", True)
    if not isinstance(password, bool):
        raise ValueError("password must be true or false")
    path = item.get("path")
    if path is not None and not isinstance(path, str):
        raise ValueError("path must be a string")
    return ImportEntry(
        line=index,
        name=_name(item.get("name")),
        path=path or None,
        groups=tuple(groups),
        tags=_json_tags(item.get("tags")),
        password=password,
    )


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a user needs a name")
    return value.strip()


def _flag(value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"password must be yes or no, not {value!r}")


def _csv_tags(text: str) -> tuple[tuple[str, str], ...]:
    tags = []
    for pair in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"a tag must be key=value, not {pair!r}")
        tags.append((key.strip(), value.strip()))
    return tuple(tags)


def _json_tags(value: object) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return tuple((str(k), v) for k, v in value.items())
    if isinstance(value, list) and all(
        isinstance(t, dict) and isinstance(t.get("Key"), str) and isinstance(t.get("Value"), str)
        for t in value
    ):
        return tuple((t["Key"], t["Value"]) for t in value)
    raise ValueError('tags must be an object of strings or a list of {"Key", "Value"}')
