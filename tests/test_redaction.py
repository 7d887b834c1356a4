"""Secrets are blanked out of text, whole and in their secret part."""

from __future__ import annotations

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
    assert secret_fragments(short) == (short.reveal(),)
    assert secret_fragments(Secret("abc")) == ()
