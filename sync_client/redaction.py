"""Keeping secrets out of text: every message, log line and document passes through `redact`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

#: Shorter fragments are not secrets worth the risk of mangling ordinary text.
MIN_FRAGMENT_LENGTH = 8


class RevealsSecret(Protocol):
    """`settings.Secret` (or the local backend's key): hides its value except through `reveal()`."""

    def reveal(self) -> str: ...


def secret_fragments(*secrets: RevealsSecret | None) -> tuple[str, ...]:
    """What to blank out for these secrets, longest first: each whole value and, for a deploy
    key (`prod:name|secret`), its secret part after `|` alone."""
    fragments: set[str] = set()
    for secret in secrets:
        if secret is not None:
            value = secret.reveal()
            fragments.update((value, value.rpartition("|")[2]))
    usable = (fragment for fragment in fragments if len(fragment) >= MIN_FRAGMENT_LENGTH)
    return tuple(sorted(usable, key=len, reverse=True))


def redact(text: str, fragments: Iterable[str]) -> str:
    """`text` with every fragment replaced by `***` (give them longest first)."""
    for fragment in fragments:
        text = text.replace(fragment, "***")
    return text
