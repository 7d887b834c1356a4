"""`posix_only(reason)`: a test that truly needs POSIX is skipped elsewhere, and says why.

    @pytest.mark.posix_only(reason="drives the CLI through a pseudo-terminal (pty)")

The reason is required: it is what a Windows run prints for the skip.
"""

from __future__ import annotations

import os

import pytest

MARKER = "posix_only"


def skip_reason(marker: pytest.Mark, os_name: str = os.name) -> str | None:
    """Why a test carrying `marker` is skipped on `os_name` (None: it runs)."""
    reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else None)
    if not isinstance(reason, str) or not reason.strip():
        raise pytest.UsageError(f"@pytest.mark.{MARKER} needs a reason: why the test needs POSIX")
    return None if os_name == "posix" else f"POSIX only: {reason}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(reason): the test needs POSIX (skipped elsewhere, with the reason)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in item.iter_markers(MARKER):
            reason = skip_reason(marker)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))
