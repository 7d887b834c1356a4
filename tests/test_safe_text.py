"""Outside text is shown, never obeyed: control characters become visible escapes, markdown
from data renders as typed, and a JSON document keeps every value exact."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from support.hostile_text import HOSTILE_PIECES, hostile_text, raw_controls

from sync_client.safe_text import json_printable, markdown_text, printable

_ESCAPE = re.compile(r"\\(n|r|t|x[0-9a-f]{2}|u[0-9a-f]{4})")


def unescape(text: str) -> str:
    """Undo `printable` (exact for text that held no backslash)."""

    def original(match: re.Match[str]) -> str:
        code = match.group(1)
        return {"n": "\n", "r": "\r", "t": "\t"}.get(code) or chr(int(code[1:], 16))

    return _ESCAPE.sub(original, text)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x9b31m", "\\u009b31m"),
        ("ok\rFAKE", "ok\\rFAKE"),
        ("abc\b\b", "abc\\x08\\x08"),
        ("a\tb\nc", "a\\tb\\nc"),
        ("\x00\x7f", "\\x00\\x7f"),
        ("\u202eevil", "\\u202eevil"),
        ("\u2028", "\\u2028"),
        ("\ud83d", "\\ud83d"),
        ("[bold]x[/bold] é ü 模型 🙂 C:\\path", "[bold]x[/bold] é ü 模型 🙂 C:\\path"),
    ],
)
def test_control_characters_become_visible_escapes(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_multiline_keeps_newlines_and_escapes_the_rest() -> None:
    assert printable("one\ntwo\r\n\x1b[2J", multiline=True) == "one\ntwo\\r\n\\x1b[2J"


@given(hostile_text)
def test_no_raw_control_character_survives_and_nothing_is_dropped(text: str) -> None:
    shown = printable(text)
    assert raw_controls(shown, lines=False) == []
    assert raw_controls(printable(text, multiline=True)) == []
    assert printable(shown) == shown  # escaping twice changes nothing
    if "\\" not in text:
        assert unescape(shown) == text


class _Cells(HTMLParser):
    """Every element and the text of each `<td>` in rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)
        if tag == "td":
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def render_cell(text: str) -> _Cells:
    markdown = f"| model | note |\n| --- | --- |\n| {markdown_text(text)} | end |\n"
    parsed = _Cells()
    parsed.feed(MarkdownIt("commonmark").enable("table").render(markdown))
    return parsed


@given(hostile_text)
def test_markdown_from_data_renders_as_its_text_in_one_table_cell(text: str) -> None:
    rendered = render_cell(text)
    assert set(rendered.tags) == {"table", "thead", "tr", "th", "tbody", "td"}  # no a/img/em
    # A table cell trims the whitespace around it, as it would typed text.
    assert rendered.cells == [printable(text).strip(), "end"]


@pytest.mark.parametrize("piece", HOSTILE_PIECES)
def test_each_markdown_attack_stays_text(piece: str) -> None:
    rendered = render_cell(f"before {piece} after")
    assert rendered.cells[0] == printable(f"before {piece} after")
    assert raw_controls(markdown_text(piece), lines=False) == []


def test_markdown_escapes_every_ascii_punctuation_character() -> None:
    punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    assert markdown_text(punctuation) == "".join("\\" + char for char in punctuation)


@given(st.dictionaries(hostile_text, st.one_of(hostile_text, st.lists(hostile_text))))
def test_a_json_document_stays_exact_and_holds_no_raw_control(document: object) -> None:
    text = json_printable(json.dumps(document, ensure_ascii=False, indent=2))
    assert raw_controls(text) == []
    assert json.loads(text) == document
