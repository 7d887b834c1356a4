"""Keeping secrets out of text: every message, log line and document passes through `redact`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Protocol
from urllib.parse import quote, quote_plus

#: Shorter fragments are not secrets worth the risk of mangling ordinary text.
MIN_FRAGMENT_LENGTH = 8


class RevealsSecret(Protocol):
    """`settings.Secret` (or the local backend's key): hides its value except through `reveal()`."""

    def reveal(self) -> str: ...


def secret_fragments(*secrets: RevealsSecret | None) -> tuple[str, ...]:
    """What to blank out for these secrets, longest first: each whole value and, for a deploy
    key (`prod:name|secret`), its secret part after `|` alone, each in every form it can take
    in text (see `written_forms`)."""
    fragments: set[str] = set()
    for secret in secrets:
        if secret is not None:
            value = secret.reveal()
            for part in (value, value.rpartition("|")[2]):
                if len(part) >= MIN_FRAGMENT_LENGTH:
                    fragments.update(written_forms(part))
    return tuple(sorted(fragments, key=len, reverse=True))


def written_forms(value: str) -> set[str]:
    """`value` as it appears raw and inside a Python `repr` (of the str or of its UTF-8
    bytes, quoted either way), a JSON string and a URL: an error that quotes a header as
    `b'Bearer ...\\n...'` holds a line break as the two characters `\\n`."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    for escaped in (
        repr(value)[1:-1],
        ascii(value)[1:-1],
        repr(value.encode("utf-8", "surrogatepass"))[2:-1],
    ):
        # The quote a repr escapes depends on the whole string the value was part of.
        unescaped = escaped.replace("\\'", "'").replace('\\"', '"')
        forms.update(
            (escaped, unescaped, unescaped.replace("'", "\\'"), unescaped.replace('"', '\\"'))
        )
    forms.update(json.dumps(value, ensure_ascii=ascii_only)[1:-1] for ascii_only in (True, False))
    return forms


def redact(text: str, fragments: Iterable[str]) -> str:
    """`text` with every fragment replaced by `***` (give them longest first)."""
    for fragment in fragments:
        text = text.replace(fragment, "***")
    return text
