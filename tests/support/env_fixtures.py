"""Isolate every test from the developer's environment: no Convex / OpenRouter settings leak in."""

from __future__ import annotations

import os

import pytest

_CLEARED_PREFIXES = ("CONVEX_", "OPENROUTER_")
_CLEARED_NAMES = frozenset({"NEXT_PUBLIC_CONVEX_URL", "SYNC_MODEL_LIST"})


def is_project_variable(name: str) -> bool:
    """True for the variables sync-models reads (and so must not leak into tests)."""
    return name in _CLEARED_NAMES or name.startswith(_CLEARED_PREFIXES)


@pytest.fixture(autouse=True)
def clean_sync_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove CONVEX_*, NEXT_PUBLIC_CONVEX_URL, OPENROUTER_* and SYNC_MODEL_LIST for the test."""
    for name in list(os.environ):
        if is_project_variable(name):
            monkeypatch.delenv(name, raising=False)
