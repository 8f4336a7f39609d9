"""Printable output: text that came from the database or an endpoint reaches the terminal
as characters, never as commands to it.

Anything a request can store (an unsigned request's Action lands in the audit trail as is)
could otherwise move the cursor, rewrite the window title, clear the screen, hide a line
behind a carriage return, or reorder a line with a bidi override when an admin lists it.
Every command prints stored or remote text through `printable` (one field, one line) or
`echo` (whole lines; the newlines the command itself put between them are kept).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import click

#: Unicode categories shown escaped: controls (C0, DEL, C1), format characters (the bidi
#: embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069, the marks U+200E,
#: U+200F and U+061C, zero-width characters), line and paragraph separators, surrogates
#: and unassigned code points.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object) -> str:
    """``text`` as one line of printable characters: each control or format character is
    shown as its Python escape (ESC as ``\\x1b``, U+202E as ``\\u202e``); a newline too."""
    value = "" if text is None else str(text)
    if value.isprintable():
        return value
    return "".join(
        _escape(c) if unicodedata.category(c) in _ESCAPED_CATEGORIES else c for c in value
    )


def printable_lines(text: object) -> str:
    """Like `printable`, but the line breaks (``\\n``) stay line breaks."""
    value = "" if text is None else str(text)
    return "\n".join(printable(line) for line in value.split("\n"))


def echo(message: object = "", *, err: bool = False, **kwargs: Any) -> None:
    """`click.echo` of printable lines: the last guard of every line a command prints."""
    click.echo(printable_lines(message), err=err, **kwargs)


def markup_safe(text: object) -> Any:
    """A rich ``Text`` of printable characters: no escape sequence, and no ``[bold]`` in
    stored text is read as rich markup."""
    from rich.text import Text

    return Text(printable(text))
