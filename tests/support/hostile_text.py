"""Strings an upstream could send to steer a terminal or a markdown report, for tests of
`sync_client.safe_text` and of every renderer that shows outside text."""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st

#: Real attacks: retitle the window (OSC 0 ... BEL), write the clipboard (OSC 52), a lying
#: link (OSC 8), clear the screen, C1 CSI, overwrite the line (CR, backspace), reorder it
#: (RTL override), rich markup, a markdown link, image, HTML and a table pipe.
HOSTILE_PIECES = (
    "\x1b]0;pwned\x07",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b]8;;https://evil.example\x1b\\docs\x1b]8;;\x1b\\",
    "\x1b[2J\x1b[H",
    "\x9b31m",
    "\x9d0;t\x9c",
    "ok\rFAKE",
    "abc\b\b\b",
    "line\nnext",
    "\u2028\u2029",
    "\u202eevil\u202c",
    "\x00\x7f",
    "\ud83d",
    "[bold red]markup[/bold red]",
    "[x](https://evil.example) ![i](https://evil.example/p.png)",
    "<img src=x onerror=alert(1)> &lt; | cell",
)

#: Any character a JSON string can carry, lone surrogates and every control included.
any_character = st.characters(codec=None, exclude_categories=())
hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(any_character, max_size=8)), max_size=6
).map("".join)

#: Bidirectional classes of the controls that reorder a line ("Trojan Source").
_REORDERING = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}


def is_raw_control(char: str) -> bool:
    """Must never reach a terminal raw: a control character (C0, DEL, C1), a line or paragraph
    separator, a lone surrogate or a reordering control (read off Unicode's own tables, apart
    from the list sync_client.safe_text keeps)."""
    category = unicodedata.category(char)
    return category in ("Cc", "Zl", "Zp", "Cs") or unicodedata.bidirectional(char) in _REORDERING


def raw_controls(text: str, *, lines: bool = True) -> list[str]:
    """The raw control characters in `text` (newlines allowed when `lines`)."""
    return [char for char in text if is_raw_control(char) and not (lines and char == "\n")]
