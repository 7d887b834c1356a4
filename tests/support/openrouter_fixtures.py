"""Pytest fixtures for the loopback OpenRouter server (see support.openrouter_server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.openrouter_server import OpenRouterServer


@pytest.fixture
def openrouter_server() -> Iterator[OpenRouterServer]:
    """A fresh loopback OpenRouter for one test; serves `{"data": []}` until told otherwise.

    `.base_url` is the OPENROUTER_BASE_URL to use; `.serve_snapshot(name)`, `.enqueue(...)`,
    `.requests` / `.request_count` as documented in support.openrouter_server.
    """
    with OpenRouterServer() as server:
        yield server
