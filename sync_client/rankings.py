"""Strict reader (and writer) of the ranked-list files `convex/config/top*Models.ts`.

The files are TypeScript, but only one data form is accepted, read by a small tokenizer and
parser here — nothing is ever evaluated and Node is never called:

    // header comments
    export const TOP_PAID_MODELS = [
      { apiId: "anthropic/claude-sonnet-4.5", rank: 1 },
      ...
    ] as const;

Comments (`//`, `/* */`), either quote style, trailing commas, quoted keys, any key order
and `as const` are fine; the `export const NAME =` part may be left out. Anything else is a
RankingsError naming file, line, column and what was expected.
"""

from __future__ import annotations

import json
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import RankingsError
from .safe_text import json_printable
from .settings import ListChoice

PAID_FILE = "topPaidModels.ts"
FREE_FILE = "topFreeModels.ts"

_KNOWN_FILES: dict[str, tuple[str, str]] = {
    PAID_FILE: ("paid", "TOP_PAID_MODELS"),
    FREE_FILE: ("free", "TOP_FREE_MODELS"),
}
_ENTRY_KEYS = ("apiId", "rank")


#: OpenRouter ids are short (`vendor/model-name:variant`); a longer one is a mistake, and
#: echoing it in every message would flood the output.
MAX_API_ID_LENGTH = 256


def api_id_problem(value: str) -> str | None:
    """Why `value` cannot be an OpenRouter model id (empty, too long, whitespace or control
    characters), or None; the value in it is JSON-escaped."""
    if not value.strip():
        return "is empty"
    if len(value) > MAX_API_ID_LENGTH:
        return (
            f"{json.dumps(value[:40])}… is {len(value):,} characters long "
            f"(at most {MAX_API_ID_LENGTH})"
        )
    if any(char.isspace() or unicodedata.category(char) in _NOT_IN_AN_ID for char in value):
        return f"{json.dumps(value)[:60]} holds whitespace or control characters"
    return None


#: Control characters (C0, DEL, C1) and lone surrogates (no encoding can carry one).
_NOT_IN_AN_ID = frozenset({"Cc", "Cs"})


@dataclass(frozen=True)
class RankedModel:
    """One model of a ranked list; `list_name` is "free", "paid" or "extra" (named by --model)."""

    api_id: str
    rank: int
    list_name: str


def read_ranked_list(
    path: Path, *, list_name: str | None = None, constant_name: str | None = None
) -> list[RankedModel]:
    """Parse one ranked-list file; return its models sorted by rank.

    For topPaidModels.ts / topFreeModels.ts the list name and the exported constant's name
    (TOP_PAID_MODELS / TOP_FREE_MODELS) are known; other files need `list_name` (default
    "extra") and accept any constant name unless `constant_name` is given.
    """
    known_list, known_constant = _KNOWN_FILES.get(path.name, ("extra", None))
    try:
        # Opening a FIFO waits for a writer, and a device may never end: read regular files only.
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise RankingsError(
                f"not a regular file ({_describe_file_type(mode)})",
                path=path,
                hint="a ranked list is read only from a regular file",
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RankingsError(
            "file not found",
            path=path,
            hint="run from the project root, or point --config-dir at the folder holding "
            f"{PAID_FILE} and {FREE_FILE}",
        ) from None
    except UnicodeDecodeError as exc:
        raise RankingsError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path
        ) from None
    except OSError as exc:
        raise RankingsError(f"cannot read file: {exc.strerror or exc}", path=path) from None
    return parse_ranked_list(
        text,
        path=path,
        list_name=list_name or known_list,
        constant_name=constant_name or known_constant,
    )


def _describe_file_type(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for is_kind, kind in kinds if is_kind(mode)), "not a file")


def load_rankings(config_dir: Path, choice: ListChoice) -> list[RankedModel]:
    """The ranked models for `choice`; "all" is paid then free, an id in both kept once (paid)."""
    files = {"paid": [PAID_FILE], "free": [FREE_FILE], "all": [PAID_FILE, FREE_FILE]}[choice]
    seen: set[str] = set()
    models: list[RankedModel] = []
    for name in files:
        for model in read_ranked_list(config_dir / name):
            if model.api_id not in seen:
                seen.add(model.api_id)
                models.append(model)
    return models


def parse_ranked_list(
    text: str,
    *,
    path: Path | str = "<string>",
    list_name: str = "extra",
    constant_name: str | None = None,
) -> list[RankedModel]:
    """Parse the text of a ranked-list file (see the module docstring); sorted by rank."""
    return _Parser(text, Path(path), list_name, constant_name).parse_file()


def read_header_comments(text: str) -> list[str]:
    """The `//` comment lines at the top of a file, without the `//` (and one following space)."""
    header: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("//"):
            break
        body = stripped[2:]
        header.append(body[1:] if body.startswith(" ") else body)
    return header


def render_ranked_list(
    constant_name: str, models: Iterable[RankedModel], header: Sequence[str] = ()
) -> str:
    """Write `models` in the form `read_ranked_list` reads, sorted by rank.

    `header` lines become `// ` comments at the top (as `read_header_comments` returns them).
    """
    if not re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", constant_name):
        raise ValueError(f"not a valid constant name: {constant_name!r}")
    lines = [f"// {line}".rstrip() if line else "//" for line in header]
    for line in header:
        if "\n" in line or "\r" in line:
            raise ValueError(f"a header line cannot hold a line break: {line!r}")
    lines.append(f"export const {constant_name} = [")
    for model in sorted(models, key=lambda model: model.rank):
        # JSON string syntax is valid JavaScript string syntax; characters a terminal acts on
        # (and U+2028/U+2029, line breaks to older JavaScript) are written as \u escapes.
        api_id = json_printable(json.dumps(model.api_id, ensure_ascii=False))
        lines.append(f"  {{ apiId: {api_id}, rank: {model.rank} }},")
    lines.append("] as const;")
    return "\n".join(lines) + "\n"


# --- tokenizer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "punct", "ident", "string", "number", "eof"
    value: str
    line: int
    column: int

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of file"
        shown = self.value if len(self.value) <= 40 else self.value[:37] + "..."
        if self.kind == "string":
            return f"string {json.dumps(shown)}"
        return f"'{shown}'" if self.kind == "punct" else f"{self.kind} {shown}"


_PUNCT = set("[]{},:;=")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?")
_PLAIN_STRING_RUN = {"'": re.compile(r"[^'\\\n\r]+"), '"': re.compile(r'[^"\\\n\r]+')}
_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0",
    "'": "'", '"': '"', "\\": "\\",
}  # fmt: skip


class _Tokenizer:
    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def error(self, message: str, pos: int | None = None) -> RankingsError:
        at = self.pos if pos is None else pos
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return RankingsError(message, path=self.path, line=line, column=column)

    def _advance_to(self, end: int) -> None:
        newlines = self.text.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.pos, end) + 1
        self.pos = end

    def tokens(self) -> Iterator[_Token]:
        """Tokens one at a time, so that a parse error is reported before a later lexical one."""
        text = self.text
        while True:
            self._skip_space_and_comments()
            line, column = self.line, self.pos - self.line_start + 1
            if self.pos >= len(text):
                yield _Token("eof", "", line, column)
                return
            char = text[self.pos]
            if char in _PUNCT:
                self._advance_to(self.pos + 1)
                yield _Token("punct", char, line, column)
            elif char in "'\"":
                yield _Token("string", self._string(char), line, column)
            elif match := _IDENT.match(text, self.pos):
                self._advance_to(match.end())
                yield _Token("ident", match.group(), line, column)
            elif match := _NUMBER.match(text, self.pos):
                end = match.end()
                if end < len(text) and (text[end].isalnum() or text[end] in "_$."):
                    raise self.error(f"malformed number {text[self.pos : end + 1]!r}")
                self._advance_to(end)
                yield _Token("number", match.group(), line, column)
            elif char == "`":
                raise self.error("template strings are not supported; use '...' or \"...\"")
            else:
                raise self.error(f"unexpected character {char!r}")

    def _skip_space_and_comments(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r\n\ufeff\u00a0":
                self._advance_to(self.pos + 1)
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self._advance_to(len(text) if end == -1 else end)
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end == -1:
                    raise self.error("unterminated /* comment")
                self._advance_to(end + 2)
            else:
                return

    def _string(self, quote: str) -> str:
        text = self.text
        start = self.pos
        pos = self.pos + 1
        parts: list[str] = []
        plain = _PLAIN_STRING_RUN[quote]
        while True:
            if (match := plain.match(text, pos)) is not None:
                parts.append(match.group())
                pos = match.end()
            if pos >= len(text) or text[pos] in "\r\n":
                raise self.error(f"unterminated string (expected a closing {quote})", start)
            char = text[pos]
            if char == quote:
                self._advance_to(pos + 1)
                return "".join(parts)
            # A backslash escape.
            if pos + 1 >= len(text):
                raise self.error("unterminated string", start)
            escape = text[pos + 1]
            if escape in _SIMPLE_ESCAPES:
                if escape == "0" and pos + 2 < len(text) and text[pos + 2].isdigit():
                    raise self.error("octal escapes are not allowed", pos)
                parts.append(_SIMPLE_ESCAPES[escape])
                pos += 2
            elif escape == "x":
                digits = text[pos + 2 : pos + 4]
                if not re.fullmatch(r"[0-9A-Fa-f]{2}", digits):
                    raise self.error("malformed \\x escape (expected two hex digits)", pos)
                parts.append(chr(int(digits, 16)))
                pos += 4
            elif escape == "u":
                pos = self._unicode_escape(pos, parts)
            elif escape == "\r":
                pos += 3 if text.startswith("\r\n", pos + 1) else 2
            elif escape in "\n\u2028\u2029":
                pos += 2
            elif escape.isdigit():
                raise self.error("octal escapes are not allowed", pos)
            else:
                parts.append(escape)  # JavaScript: an unknown escape is the character itself
                pos += 2

    def _unicode_escape(self, pos: int, parts: list[str]) -> int:
        text = self.text
        if text.startswith("{", pos + 2):
            end = text.find("}", pos + 3)
            digits = text[pos + 3 : end] if end != -1 else ""
            if not re.fullmatch(r"[0-9A-Fa-f]{1,6}", digits) or int(digits, 16) > 0x10FFFF:
                raise self.error("malformed \\u{...} escape", pos)
            code, after = int(digits, 16), end + 1
        else:
            digits = text[pos + 2 : pos + 6]
            if not re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
                raise self.error("malformed \\u escape (expected four hex digits)", pos)
            code, after = int(digits, 16), pos + 6
            low = re.match(r"\\u([Dd][C-Fc-f][0-9A-Fa-f]{2})", text[after : after + 6])
            if 0xD800 <= code <= 0xDBFF and low:
                code = 0x10000 + ((code - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
                after += 6
        if 0xD800 <= code <= 0xDFFF:
            raise self.error("lone surrogate in \\u escape", pos)
        parts.append(chr(code))
        return after


# --- parser ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, path: Path, list_name: str, constant_name: str | None) -> None:
        self.path = path
        self.list_name = list_name
        self.constant_name = constant_name
        self.tokens = _Tokenizer(text, path).tokens()
        self.lookahead: _Token | None = None

    def error(self, message: str, token: _Token) -> RankingsError:
        return RankingsError(message, path=self.path, line=token.line, column=token.column)

    def peek(self) -> _Token:
        if self.lookahead is None:
            self.lookahead = next(self.tokens)
        return self.lookahead

    def take(self) -> _Token:
        token = self.peek()
        if token.kind != "eof":
            self.lookahead = None
        return token

    def expect_punct(self, char: str, context: str) -> _Token:
        token = self.take()
        if token.kind != "punct" or token.value != char:
            raise self.error(f"expected '{char}' {context}, found {token.describe()}", token)
        return token

    def expect_ident(self, word: str, context: str) -> _Token:
        token = self.take()
        if token.kind != "ident" or token.value != word:
            raise self.error(f"expected '{word}' {context}, found {token.describe()}", token)
        return token

    def at(self, kind: str, value: str) -> bool:
        token = self.peek()
        return token.kind == kind and token.value == value

    def parse_file(self) -> list[RankedModel]:
        expected_decl = (
            f"'export const {self.constant_name} = ['"
            if self.constant_name
            else "'export const NAME = ['"
        )
        if self.at("ident", "export") or self.at("ident", "const"):
            if self.at("ident", "export"):
                self.take()
            self.expect_ident("const", "after 'export'")
            name = self.take()
            if name.kind != "ident":
                raise self.error(f"expected a constant name, found {name.describe()}", name)
            if self.constant_name is not None and name.value != self.constant_name:
                raise self.error(
                    f"expected the constant to be named {self.constant_name}, found {name.value}",
                    name,
                )
            self.expect_punct("=", f"after the constant name {name.value}")
        elif not self.at("punct", "["):
            token = self.peek()
            raise self.error(f"expected {expected_decl}, found {token.describe()}", token)
        open_bracket = self.expect_punct("[", "to start the list")
        models = self.parse_entries()
        if not models:
            raise self.error("the list is empty; expected at least one model", open_bracket)
        if self.at("ident", "as"):
            self.take()
            self.expect_ident("const", "after 'as'")
        if self.at("punct", ";"):
            self.take()
        end = self.take()
        if end.kind != "eof":
            raise self.error(f"expected end of file after the list, found {end.describe()}", end)
        return sorted(models, key=lambda model: model.rank)

    def parse_entries(self) -> list[RankedModel]:
        models: list[RankedModel] = []
        lines_by_id: dict[str, int] = {}
        lines_by_rank: dict[int, int] = {}
        while not self.at("punct", "]"):
            start = self.peek()
            api_id, rank = self.parse_entry()
            if api_id in lines_by_id:
                raise self.error(
                    f"duplicate apiId {json.dumps(api_id)} (also on line {lines_by_id[api_id]})",
                    start,
                )
            if rank in lines_by_rank:
                raise self.error(
                    f"duplicate rank {rank} (also on line {lines_by_rank[rank]})", start
                )
            lines_by_id[api_id] = start.line
            lines_by_rank[rank] = start.line
            models.append(RankedModel(api_id=api_id, rank=rank, list_name=self.list_name))
            token = self.peek()
            if token.kind == "punct" and token.value == ",":
                self.take()
            elif not (token.kind == "punct" and token.value == "]"):
                raise self.error(
                    f"expected ',' or ']' after an entry, found {token.describe()}", token
                )
        self.take()
        return models

    def parse_entry(self) -> tuple[str, int]:
        open_brace = self.take()
        if open_brace.kind != "punct" or open_brace.value != "{":
            raise self.error(
                "expected '{' to start an entry like { apiId: \"vendor/model\", rank: 1 }, "
                f"found {open_brace.describe()}",
                open_brace,
            )
        api_id: str | None = None
        rank: int | None = None
        while not self.at("punct", "}"):
            key_token = self.take()
            if key_token.kind not in ("ident", "string"):
                raise self.error(
                    f"expected a key (apiId or rank), found {key_token.describe()}", key_token
                )
            key = key_token.value
            if key not in _ENTRY_KEYS:
                raise self.error(
                    f"unknown key {json.dumps(key)}; expected apiId or rank", key_token
                )
            if (api_id if key == "apiId" else rank) is not None:
                raise self.error(f"duplicate key {key} in one entry", key_token)
            self.expect_punct(":", f"after the key {key}")
            if key == "apiId":
                api_id = self.check_api_id(self.take())
            else:
                rank = self.check_rank(self.take())
            token = self.peek()
            if token.kind == "punct" and token.value == ",":
                self.take()
            elif not (token.kind == "punct" and token.value == "}"):
                raise self.error(
                    f"expected ',' or '}}' after the value of {key}, found {token.describe()}",
                    token,
                )
        close_brace = self.take()
        if api_id is None:
            raise self.error("entry has no apiId", close_brace)
        if rank is None:
            raise self.error("entry has no rank", close_brace)
        return api_id, rank

    def check_api_id(self, token: _Token) -> str:
        if token.kind != "string":
            raise self.error(f"expected apiId to be a string, found {token.describe()}", token)
        problem = api_id_problem(token.value)
        if problem is not None:
            raise self.error(f"apiId {problem}", token)
        return token.value

    def check_rank(self, token: _Token) -> int:
        if token.kind != "number":
            raise self.error(f"expected rank to be a number, found {token.describe()}", token)
        if not re.fullmatch(r"[1-9][0-9]*", token.value):
            raise self.error(
                f"rank must be a positive whole number (1, 2, ...), found {token.value}", token
            )
        return int(token.value)
