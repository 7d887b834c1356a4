"""Pytest fixtures: one local Convex backend per session, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.local_backend import LocalBackend, start_local_backend


@pytest.fixture(scope="session")
def local_backend() -> Iterator[LocalBackend]:
    """The local backend running the project's convex/ functions, for the whole session."""
    with start_local_backend() as backend:
        yield backend


@pytest.fixture
def backend(local_backend: LocalBackend) -> LocalBackend:
    """The session's local backend with no documents and no faults."""
    local_backend.reset()
    return local_backend
