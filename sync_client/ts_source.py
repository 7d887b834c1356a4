"""Just enough of TypeScript's surface to read and edit Convex files as text: where code is
(not a comment or a string), matching brackets, the entries of an object literal, string
literals. `sync-models init` uses it on `schema.ts` and `mutations/syncModels.ts`; anything
it cannot read this way is left to a person (see schema_merge)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_CLOSING = {"(": ")", "[": "]", "{": "}"}
_STRING = re.compile(r"""^\s*(["'])(?:[^"'\\\n]|\\.)*\1\s*$""")
_KEY = re.compile(r"\s*(?:([A-Za-z_$][\w$]*)|([\"'])([^\"']*)\2)\s*:")


class NotReadable(ValueError):
    """The text is not in a shape this module reads."""


def _regions(text: str) -> list[tuple[str, int, int]]:
    """("comment" | "string", start, end) of each comment and of each string literal's inside."""
    regions = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            regions.append(("comment", i, end))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            regions.append(("comment", i, end))
            i = end
        elif text[i] in "\"'`":
            quote, j = text[i], i + 1
            while j < n and text[j] != quote:
                j += 2 if text[j] == "\\" else 1
            regions.append(("string", i + 1, min(j, n)))
            i = j + 1
        else:
            i += 1
    return regions


def code_mask(text: str) -> str:
    """`text` with the inside of every comment and string literal blanked (newlines kept),
    so a search for code finds only code. Same length: positions carry over."""
    out = list(text)
    for _kind, start, end in _regions(text):
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "
    return "".join(out)


def closing(mask: str, opening: int) -> int:
    """The index of the bracket that closes the one at `opening` (in a masked text)."""
    stack: list[str] = []
    for i in range(opening, len(mask)):
        char = mask[i]
        if char in _CLOSING:
            stack.append(_CLOSING[char])
        elif char in ")]}":
            if not stack or stack.pop() != char:
                raise NotReadable(f"unbalanced {char!r} at offset {i}")
            if not stack:
                return i
    raise NotReadable("a bracket is never closed")


def string_value(source: str) -> str | None:
    """The value of a lone string literal (`"x"` or `'x'`), else None."""
    if not _STRING.match(source):
        return None
    value = ast.literal_eval(source.strip())
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Entry:
    """One entry of an object literal: `key: value` or `...spread` (key None)."""

    key: str | None
    value: str
    #: Offsets in the whole text: where the value starts and ends (a spread's expression).
    value_start: int
    value_end: int


@dataclass(frozen=True)
class ObjectLiteral:
    """An object literal `{ ... }` at [open, close] in a text."""

    open: int
    close: int
    entries: tuple[Entry, ...]

    def get(self, key: str) -> Entry | None:
        return next((entry for entry in self.entries if entry.key == key), None)

    @property
    def spreads(self) -> list[str]:
        return [entry.value for entry in self.entries if entry.key is None]


def object_literal(text: str, mask: str, opening: int) -> ObjectLiteral:
    """Read the object literal whose `{` is at `opening`."""
    if mask[opening] != "{":
        raise NotReadable("not an object literal")
    close = closing(mask, opening)
    entries = []
    start, depth = opening + 1, 0
    for i in range(opening + 1, close + 1):
        char = mask[i]
        if char in "([{":
            depth += 1
        elif char in ")]}" and i != close:
            depth -= 1
        if (char == "," and depth == 0) or i == close:
            if mask[start:i].strip():
                entries.append(_entry(text, mask, start, i))
            start = i + 1
    return ObjectLiteral(opening, close, tuple(entries))


def _entry(text: str, mask: str, start: int, end: int) -> Entry:
    chunk = mask[start:end]
    stripped = chunk.lstrip()
    offset = start + len(chunk) - len(stripped)
    if stripped.startswith("..."):
        value_start = offset + 3
        return Entry(None, text[value_start:end].strip(), value_start, end)
    match = _KEY.match(mask, start, end)
    if match is None:
        raise NotReadable(f"an entry that is not `key: value`: {text[start:end].strip()!r}")
    key = match.group(1) or text[match.start(3) : match.end(3)]
    value_start = match.end()
    value_text = text[value_start:end]
    leading = len(value_text) - len(value_text.lstrip())
    trailing = len(value_text.rstrip())
    return Entry(key, value_text.strip(), value_start + leading, value_start + trailing)


def normalized(source: str) -> str:
    """Code compared for sameness: comments and whitespace dropped, no trailing commas."""
    kept, position = [], 0
    for kind, start, end in _regions(source):
        if kind == "comment":
            kept.append(source[position:start])
            position = end
    kept.append(source[position:])
    return re.sub(r",(?=[)\]}])", "", re.sub(r"\s+", "", "".join(kept)))


def line_indent(text: str, position: int) -> str:
    """The whitespace that starts the line holding `position`."""
    line_start = text.rfind("\n", 0, position) + 1
    line = text[line_start:position]
    return line[: len(line) - len(line.lstrip())]
