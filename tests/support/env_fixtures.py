"""Isolate every test from the developer's environment: no Convex / OpenRouter settings leak in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_CLEARED_PREFIXES = ("CONVEX_", "OPENROUTER_")
#: GITHUB_STEP_SUMMARY too: under GitHub Actions each sync a test runs would append to the
#: job's real summary (tests that want one point it at a file of their own).
_CLEARED_NAMES = frozenset({"NEXT_PUBLIC_CONVEX_URL", "SYNC_MODEL_LIST", "GITHUB_STEP_SUMMARY"})


def is_project_variable(name: str) -> bool:
    """True for the variables sync-models reads (and so must not leak into tests)."""
    return name in _CLEARED_NAMES or name.startswith(_CLEARED_PREFIXES)


@pytest.fixture(autouse=True)
def clean_sync_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove CONVEX_*, NEXT_PUBLIC_CONVEX_URL, OPENROUTER_*, SYNC_MODEL_LIST and
    GITHUB_STEP_SUMMARY for the test."""
    for name in list(os.environ):
        if is_project_variable(name):
            monkeypatch.delenv(name, raising=False)


#: What a process needs from the environment on Windows to start at all (Python's random
#: seed needs SYSTEMROOT) and to find temporary folders and executables; absent elsewhere.
_SYSTEM_VARIABLES = ("SYSTEMROOT", "PATHEXT", "COMSPEC", "TEMP", "TMP")


def clean_environment(home: Path, **settings: str) -> dict[str, str]:
    """A minimal environment for a CLI run: PATH, a home of its own, a UTF-8 locale, the
    repository on PYTHONPATH, what the OS itself needs, and only the given settings."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "USERPROFILE": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.update({name: os.environ[name] for name in _SYSTEM_VARIABLES if name in os.environ})
    env.update(settings)
    return env
