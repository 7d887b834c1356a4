"""The CI files: the three-system test matrix, the release workflow, every action pinned, and
the `posix_only` marker the suite uses for what truly needs POSIX."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.posix_only import skip_reason

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def uses_of(document: Any) -> list[str]:
    """Every `uses:` value anywhere in a workflow or action document."""
    if isinstance(document, dict):
        found = [value for key, value in document.items() if key == "uses"]
        return found + [use for value in document.values() for use in uses_of(value)]
    if isinstance(document, list):
        return [use for item in document for use in uses_of(item)]
    return []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit(path: Path) -> None:
    uses = [use for use in uses_of(load(path)) if not use.startswith("./")]
    assert uses, f"{path.name} uses no action"
    assert [use for use in uses if not PINNED.match(use)] == []


def test_the_tests_run_on_linux_macos_and_windows_with_one_entry_point() -> None:
    job = load(REPO / ".github" / "workflows" / "tests.yml")["jobs"]["test"]
    assert job["runs-on"] == "${{ matrix.os }}"
    assert job["strategy"]["matrix"]["os"] == ["ubuntu-24.04", "macos-latest", "windows-latest"]
    assert job["strategy"]["fail-fast"] is False
    assert job["steps"][-1]["run"] == "python scripts/test.py"
    assert "test.py" in (REPO / "scripts" / "test").read_text(encoding="utf-8")


def test_release_publishes_by_trusted_publishing_from_the_publish_job_alone() -> None:
    path = REPO / ".github" / "workflows" / "release.yml"
    workflow = load(path)
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    runs = "\n".join(step.get("run", "") for step in build["steps"])
    assert "python -m build" in runs and "twine check" in runs
    assert build["permissions"] == {"contents": "read"}
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["needs"] == "build" and publish["environment"] == "pypi"
    assert uses_of(publish["steps"])[-1].startswith("pypa/gh-action-pypi-publish@")
    assert "secrets." not in path.read_text(encoding="utf-8")  # no stored token


def mark(*args: object, **kwargs: object) -> pytest.Mark:
    return pytest.mark.posix_only(*args, **kwargs).mark


def test_posix_only_skips_elsewhere_with_its_reason() -> None:
    marker = mark(reason="uses a pty")
    assert skip_reason(marker, "posix") is None
    assert skip_reason(marker, "nt") == "POSIX only: uses a pty"
    assert skip_reason(mark("uses a pty"), "nt") == "POSIX only: uses a pty"


@pytest.mark.parametrize("marker", [mark(), mark(reason=""), mark(reason="  ")])
def test_posix_only_without_a_reason_is_a_usage_error(marker: pytest.Mark) -> None:
    with pytest.raises(pytest.UsageError, match="needs a reason"):
        skip_reason(marker, "posix")
