"""Pytest fixtures for the loopback OpenRouter server (see support.openrouter_server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support.openrouter_server import (
    NO_EXTRA_SNAPSHOTS,
    SNAPSHOTS,
    OpenRouterServer,
    extra_snapshots,
    extra_snapshots_dir,
)


def every_snapshot() -> list[Any]:
    """Parameters for a snapshot-wide test: the project's snapshots (by file name), then
    each extra one (by Path, id `extra-<stem>`), or one skipped case saying why there are none."""
    params: list[Any] = [pytest.param(name, id=name.removesuffix(".json")) for name in SNAPSHOTS]
    extras = extra_snapshots()
    if not extras:
        folder = extra_snapshots_dir()
        reason = NO_EXTRA_SNAPSHOTS if folder is None else f"no models-*.json in {folder}"
        return [*params, pytest.param(None, id="extra", marks=pytest.mark.skip(reason=reason))]
    return [*params, *(pytest.param(path, id=f"extra-{path.stem}") for path in extras)]


@pytest.fixture
def openrouter_server() -> Iterator[OpenRouterServer]:
    """A fresh loopback OpenRouter for one test; serves `{"data": []}` until told otherwise.

    `.base_url` is the OPENROUTER_BASE_URL to use; `.serve_snapshot(name)`, `.enqueue(...)`,
    `.requests` / `.request_count` as documented in support.openrouter_server.
    """
    with OpenRouterServer() as server:
        yield server
