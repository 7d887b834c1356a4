#!/usr/bin/env python3
"""Build the project's OpenRouter test data from real `GET /api/v1/models` snapshots.

    python3 scripts/build_openrouter_fixtures.py SOURCE.json [SOURCE.json ...] [--out DIR]

Each SOURCE (`{"data": [...]}`) is written to DIR (default tests/fixtures/openrouter/)
under its own file name, as compact UTF-8 JSON (OpenRouter's own form). Every field is
kept exactly as sent, in its order and JSON type, except `description`: other people's
prose, replaced by text generated here from the model id. The generated text keeps what
the tests can notice: the same lines (blank ones too) and, per line, the same length in
characters, a list or heading marker, a markdown link, bold or inline code where the
source had one, and the source's non-ASCII characters; an empty or null description
stays empty or null. The same source always gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "openrouter"

WORDS = (
    "model", "context", "tokens", "input", "output", "reasoning", "latency", "provider", "router",
    "window", "streaming", "tools", "vision", "audio", "price", "batch", "cache", "prompt",
    "completion", "instruct", "chat", "agent", "code", "math", "long", "short", "fast", "small",
    "large", "open", "weights", "mixture", "experts", "layer", "dense", "sparse", "tuned", "base",
    "release", "version", "preview", "update", "support", "request", "response", "quality",
    "benchmark", "throughput", "format", "schema", "sample", "test", "fixture", "data", "value",
    "limit",
)
LIST_MARKER = re.compile(r"^(\s*(?:[-*+]|\d+[.)]|#{1,6}|>)\s+)")
LINK = re.compile(r"\[[^\]\n]*\]\([^)\n]*\)")


class _Filler:
    """Deterministic words for one model: the n-th word depends only on (model id, n)."""

    def __init__(self, model_id: str) -> None:
        self._seed = model_id
        self._count = 0

    def word(self) -> str:
        digest = hashlib.sha256(f"{self._seed}\x00{self._count}".encode()).digest()
        self._count += 1
        return WORDS[int.from_bytes(digest[:4], "big") % len(WORDS)]


def generated_description(model_id: str, source: Any) -> Any:
    """Text standing in for `source`; anything but a non-empty string is kept as it is."""
    if not isinstance(source, str) or source == "":
        return source
    filler = _Filler(model_id)
    lines = source.split("\n")
    intros = [model_id, *([None] * (len(lines) - 1))]  # only the first line names the model
    return "\n".join(_line(line, filler, intro) for line, intro in zip(lines, intros, strict=True))


def _line(source: str, filler: _Filler, model_id: str | None) -> str:
    if source.strip() == "":
        return source  # blank lines (and their spaces) carry no prose
    marker_match = LIST_MARKER.match(source)
    marker = marker_match.group(1) if marker_match else ""
    tokens: list[str] = []
    if LINK.search(source):
        tokens.append(f"[{filler.word()} notes](https://example.com/{filler.word()})")
    if "**" in source:
        tokens.append(f"**{filler.word()}**")
    if "`" in source:
        tokens.append(f"`{filler.word()}`")
    tokens += _non_ascii(source)
    length = len(source) - len(marker)
    if model_id is not None:
        intro = ["Generated", "text", "for", f"{model_id}."]
        if len(" ".join(intro + tokens)) <= length:
            tokens = intro + tokens
    return marker + _fill(tokens, length, filler)


def _non_ascii(text: str) -> list[str]:
    """Each distinct non-ASCII character of `text`, in order of first appearance."""
    return list(dict.fromkeys(char for char in text if ord(char) > 127))


def _fill(tokens: list[str], length: int, filler: _Filler) -> str:
    """`tokens`, then filler words, joined by spaces and cut or padded to `length` chars.

    Required tokens win over the length when they do not fit: a short source line with a
    link gives a longer line, never a broken link.
    """
    text = " ".join(tokens)
    while len(text) < length:
        word = filler.word()
        text = f"{text} {word}" if text else word
    if len(text) > length:
        required = len(" ".join(tokens))
        text = text[: max(length, required)].rstrip()
        text += "." * (max(length, required) - len(text))
    return text


def build(source: bytes) -> bytes:
    """The fixture's bytes for one snapshot's bytes."""
    snapshot = json.loads(source)
    for model in snapshot["data"]:
        if "description" in model:
            model["description"] = generated_description(model["id"], model["description"])
    return json.dumps(snapshot, ensure_ascii=False, separators=(",", ":")).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path, metavar="SOURCE.json")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for source in args.sources:
        target = args.out / source.name
        data = build(source.read_bytes())
        target.write_bytes(data)
        print(f"{target}: {len(data)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
