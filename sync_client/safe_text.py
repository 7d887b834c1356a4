"""Text from outside (OpenRouter's data, Convex rows, error text from either) is data: these
functions make it safe to show, without losing any of it.

- `printable`: for a terminal, a log or any plain-text output. Every human-readable renderer
  passes outside strings through it; `console.Output` applies it once more to everything it
  prints. The result is plain text: never hand it to rich as markup (`[bold]` must print as
  typed), e.g. use `Text(...)` or `markup=False`.
- `markdown_text`: for output rendered as markdown or HTML (a GitHub job summary).
- `json_printable`: for a JSON document printed with `ensure_ascii=False` (`--json`); the
  values decode exactly as they were.
"""

from __future__ import annotations

import re

#: What a terminal may act on or that misleads a reader, rather than shows:
#: C0 controls (ESC, BEL, CR, backspace, ...), DEL, C1 controls (CSI U+009B, OSC U+009D, ...),
#: the bidirectional controls that reorder a line ("Trojan Source"), the Unicode line and
#: paragraph separators, and lone surrogates (no encoding can print them).
_UNSAFE_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x1f{_UNSAFE_BEYOND_C0}]")
_UNSAFE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_UNSAFE_BEYOND_C0}]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Every ASCII punctuation character: CommonMark lets each be escaped with a backslash, and
#: escaping them all leaves no link, image, HTML tag, entity, emphasis, code span, heading,
#: list marker, table pipe or autolink (`https:`, `www.`) that data could start.
_MARKDOWN_PUNCTUATION = re.compile(r"""[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]""")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def printable(text: str, *, multiline: bool = False) -> str:
    """`text` with every control character made visible as an escape (`\\x1b`, `\\u009b`,
    `\\r`, `\\t`, `\\u202e`): nothing is dropped and nothing reaches the terminal raw.

    A newline becomes `\\n` too, so a value can't start a line of its own; with `multiline`
    (a whole report, where the lines are the renderer's own) newlines are kept. Printable
    text, backslashes included, is left as it is.
    """
    if multiline:
        return _UNSAFE_BUT_NEWLINE.sub(_visible, text)
    return _UNSAFE.sub(_visible, text)


def markdown_text(text: str) -> str:
    """Outside text as inline markdown (a table cell, or within a line of running text) that
    renders as `printable` shows it in a terminal, e.g. in a GitHub job summary.

    Control characters and newlines become visible escapes (`\\n`, `\\x1b`), then every ASCII
    punctuation character is backslash-escaped, so the data can't add a table cell (`|`), a
    link or image (`[..](..)`, `![..](..)`), an autolink, HTML (`<img>`, `&lt;`), emphasis or
    code. Not for the start of a line or for inside a code block.
    """
    return _MARKDOWN_PUNCTUATION.sub(lambda match: "\\" + match.group(), printable(text))


def json_printable(json_text: str) -> str:
    """A JSON text (from `json.dumps(..., ensure_ascii=False)`) with the characters `printable`
    escapes written as `\\uXXXX` escapes. `json.dumps` escapes C0 itself but not DEL, C1 or the
    others. The decoded values are unchanged: such characters only occur inside strings (the
    newlines of an indented document are left as they are)."""
    return _UNSAFE_BUT_NEWLINE.sub(lambda match: f"\\u{ord(match.group()):04x}", json_text)
