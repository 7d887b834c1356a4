"""Secrets are blanked out of text, whole and in their secret part, in every written form."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, urlencode

import pytest

from sync_client.redaction import MIN_FRAGMENT_LENGTH, redact, secret_fragments
from sync_client.settings import Secret

DEPLOY_KEY = Secret("prod:happy-otter-123|c2VjcmV0LXBhcnQtb2YtdGhlLWtleQ")
API_KEY = Secret("sk-or-v1-0123456789abcdef")


def test_a_deploy_key_is_blanked_whole_and_by_its_secret_part() -> None:
    fragments = secret_fragments(DEPLOY_KEY, None)
    text = f"auth failed for {DEPLOY_KEY.reveal()}; retry with c2VjcmV0LXBhcnQtb2YtdGhlLWtleQ"
    assert redact(text, fragments) == "auth failed for ***; retry with ***"


def test_fragments_come_longest_first_so_no_part_of_a_secret_survives() -> None:
    fragments = secret_fragments(API_KEY, DEPLOY_KEY)
    assert list(fragments) == sorted(fragments, key=len, reverse=True)
    assert redact(DEPLOY_KEY.reveal(), fragments) == "***"


def test_short_values_are_not_treated_as_secrets() -> None:
    short = Secret("a|" + "x" * (MIN_FRAGMENT_LENGTH - 1))
    fragments = secret_fragments(short)
    assert short.reveal() in fragments
    assert "x" * (MIN_FRAGMENT_LENGTH - 1) not in fragments
    assert secret_fragments(Secret("abc")) == ()


ODD_KEY = Secret("sk-or-v1-ab\ncd\te'f\"g\x00h\u00e9i\r|tail-of-the-key")


@pytest.mark.parametrize(
    ("form", "written"),
    [
        ("raw", lambda key: f"Authorization: Bearer {key}"),
        ("str repr", lambda key: f"error: {f'Bearer {key}'!r}"),
        ("ascii repr", lambda key: f"error: {f'Bearer {key}'!a}"),
        ("bytes repr", lambda key: f"Illegal header value {f'Bearer {key}'.encode()!r}"),
        ("JSON", lambda key: json.dumps({"message": f"Bearer {key}"})),
        ("JSON, ASCII only", lambda key: json.dumps([key], ensure_ascii=True)),
        ("JSON, non-ASCII kept", lambda key: json.dumps([key], ensure_ascii=False)),
        ("URL path", lambda key: f"GET /x/{quote(key, safe='')}"),
        ("URL query", lambda key: f"GET /x?{urlencode({'key': key})}"),
    ],
)
def test_every_written_form_of_a_secret_is_blanked(
    form: str, written: Callable[[str], str]
) -> None:
    text = written(ODD_KEY.reveal())
    scrubbed = redact(text, secret_fragments(ODD_KEY))
    assert "***" in scrubbed, form
    for piece in ("sk-or-v1-ab", "tail-of-the-key"):
        assert piece not in scrubbed, form


def test_the_secret_part_of_a_deploy_key_is_blanked_in_its_escaped_forms_too() -> None:
    key = Secret("prod:happy-otter-123|secret\npart-of-the-key")
    text = repr(b"token secret\npart-of-the-key") + json.dumps("secret\npart-of-the-key")
    assert "part-of-the-key" not in redact(text, secret_fragments(key))
